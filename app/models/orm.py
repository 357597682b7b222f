"""The persistent data model (SQLAlchemy 2 declarative), as sketched in DESIGN.md.

Units are metric and timestamps UTC. Enumerations are stored as plain strings (not native
enums) so that SQLite and PostgreSQL share one schema and adding a value needs no
migration of a type. ``vehicle_state`` holds the latest reading of each vehicle so that the
fleet list of 100,000 vehicles is one indexed scan, not a "latest sample per vehicle"
query over the whole telemetry history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import ClassVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.models.enums import TERMINAL_RENTAL_STATES

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    SQLite has no time zone type and hands back naive values; storing naive UTC and
    re-attaching UTC on the way out keeps comparisons in the services correct everywhere.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


#: What a NUL character is stored as. PostgreSQL refuses NUL in any text value (SQLite
#: takes it), and garbage device frames or odd vendor JSON can carry one; the whole batch
#: or transaction would then fail. The same visible escape on both backends keeps the
#: character's position for troubleshooting and makes SQLite and PostgreSQL rows identical.
NUL_ESCAPE = "\\x00"


def escape_nul(value: str) -> str:
    """``value`` with every NUL written as ``\\x00``: the one rule for outside text."""
    return value.replace("\x00", NUL_ESCAPE) if "\x00" in value else value


class OutsideString(TypeDecorator[str]):
    """Text that devices or vendor APIs supply (ids, addresses, firmware, error messages).

    Applies :func:`escape_nul` to every value the ORM or Core binds, so no write path can
    forget it; then clips to the column's length, because the escape makes text longer
    and PostgreSQL refuses an over-long VARCHAR. Telemetry ``raw`` is escaped in
    ``telemetry_reading.sanitize`` instead: its bulk paths (COPY, driver-level inserts)
    bypass column types.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        if value is None:
            return None
        value = escape_nul(value)
        length = cast(String, self.impl_instance).length
        return value[:length] if length else value


class OutsideText(OutsideString):
    """:class:`OutsideString` of unbounded length (TEXT, as those columns were created)."""

    impl = Text
    cache_ok = True


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {datetime: UtcDateTime()}
    # Every model here is mapped to a Table (no mapped selects): say so for the typed
    # Core statements that take ``Model.__table__`` (bulk insert, review export).
    __table__: ClassVar[Table]


class Vehicle(Base):
    __tablename__ = "vehicle"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    fleet_number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(60), default="")
    year: Mapped[int | None] = mapped_column(Integer)
    vin: Mapped[str | None] = mapped_column(String(17), unique=True)
    imei: Mapped[str | None] = mapped_column(String(15), unique=True)
    plate: Mapped[str] = mapped_column(String(20), default="")
    powertrain: Mapped[str | None] = mapped_column(String(8))
    connection_type: Mapped[str] = mapped_column(String(16), default="none")
    status: Mapped[str] = mapped_column(String(16), default="available")
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VehicleState(Base):
    """The latest known reading of each vehicle, kept current by the telemetry writer."""

    __tablename__ = "vehicle_state"

    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True
    )
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    fuel_pct: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[float | None] = mapped_column(Float)
    range_km: Mapped[float | None] = mapped_column(Float)
    odometer_km: Mapped[float | None] = mapped_column(Float)
    locked: Mapped[bool | None] = mapped_column(Boolean)
    doors: Mapped[dict | None] = mapped_column(JSON)
    tires_kpa: Mapped[dict | None] = mapped_column(JSON)
    oil_life_pct: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime | None]
    last_heard_at: Mapped[datetime | None]
    # Revision 0002 (telemetry store): heading, and when each value above was recorded
    # ({column: epoch seconds}), because one poll may refresh some values and not others.
    course_deg: Mapped[float | None] = mapped_column(Float)
    field_times: Mapped[dict | None] = mapped_column(JSON)
    # Revision 0005: whether the vehicle is charging (the Charging status follows it).
    charging: Mapped[bool | None] = mapped_column(Boolean)


class SmartcarConnection(Base):
    __tablename__ = "smartcar_connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    smartcar_vehicle_id: Mapped[str] = mapped_column(String(64), index=True)
    smartcar_user_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_reason: Mapped[str] = mapped_column(OutsideText(), default="")
    granted_scopes: Mapped[list] = mapped_column(JSON, default=list)
    # Deferred: people's roles may not read these two (app/models/roles.py), so loading a
    # connection never names them; only the collector's token paths select them.
    access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    access_expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    last_command_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(OutsideText(), default="")
    last_error_at: Mapped[datetime | None]
    budget_month: Mapped[str] = mapped_column(String(7), default="")
    requests_this_month: Mapped[int] = mapped_column(Integer, default=0)
    # Revision 0006 (Smartcar API V3): which API the connection speaks ("2.0" holds a
    # token pair, "3" only the user id), its webhook subscription and the last delivery.
    api_version: Mapped[str] = mapped_column(String(8), default="2.0", server_default="2.0")
    webhook_state: Mapped[str] = mapped_column(String(16), default="", server_default="")
    webhook_error: Mapped[str] = mapped_column(OutsideText(), default="", server_default="")
    last_delivery_at: Mapped[datetime | None]
    # Revision 0009 (issue #18): whether a token pair is stored, kept by every write of
    # the pair, so a console can tell a usable v2.0 connection without reading a secret.
    has_tokens: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class WebhookEvent(Base):
    """A Smartcar webhook event already stored: the same event id is never stored twice.

    Smartcar advises keeping seen ids for at least seven days; older rows are pruned.
    """

    __tablename__ = "webhook_event"

    event_id: Mapped[str] = mapped_column(OutsideString(128), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(OutsideString(128), default="")
    event_type: Mapped[str] = mapped_column(String(16))
    smartcar_vehicle_id: Mapped[str] = mapped_column(OutsideString(64), default="")
    received_at: Mapped[datetime] = mapped_column(index=True)


class IotDevice(Base):
    __tablename__ = "iot_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    vendor: Mapped[str] = mapped_column(String(32))
    protocol: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str] = mapped_column(OutsideString(32), unique=True)
    transport: Mapped[str] = mapped_column(String(8), default="tcp")
    serial_port: Mapped[str | None] = mapped_column(String(200))
    baud: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(OutsideString(80))
    firmware: Mapped[str | None] = mapped_column(OutsideString(60))
    expected_interval_s: Mapped[int] = mapped_column(Integer, default=60)
    last_heard_at: Mapped[datetime | None]


class UnknownDevice(Base):
    """A device that reported but belongs to no vehicle yet, waiting to be claimed."""

    __tablename__ = "unknown_device"
    __table_args__ = (UniqueConstraint("device_id", "protocol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(OutsideString(32))
    protocol: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(OutsideString(80), default="")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    # Revision 0007: a device on another protocol's port ("looks like GT06 on the
    # Teltonika port ..."), written by the gateway from protocol names and port numbers.
    hint: Mapped[str] = mapped_column(String(200), default="", server_default="")


class TelemetrySample(Base):
    """One reading of one vehicle; cars and scooters share this shape."""

    __tablename__ = "telemetry_sample"
    __table_args__ = (Index("ix_telemetry_vehicle_time", "vehicle_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"))
    source: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime]
    received_at: Mapped[datetime]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    course_deg: Mapped[float | None] = mapped_column(Float)
    fuel_pct: Mapped[float | None] = mapped_column(Float)
    battery_pct: Mapped[float | None] = mapped_column(Float)
    range_km: Mapped[float | None] = mapped_column(Float)
    odometer_km: Mapped[float | None] = mapped_column(Float)
    locked: Mapped[bool | None] = mapped_column(Boolean)
    doors: Mapped[dict | None] = mapped_column(JSON)
    tires_kpa: Mapped[dict | None] = mapped_column(JSON)
    oil_life_pct: Mapped[float | None] = mapped_column(Float)
    raw: Mapped[str | None] = mapped_column(Text)
    charging: Mapped[bool | None] = mapped_column(Boolean)  # revision 0005


class Command(Base):
    """A remote command and its outcome: the audit trail."""

    __tablename__ = "command"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    actor_user: Mapped[str] = mapped_column(String(80))
    actor_host: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str] = mapped_column(OutsideText(), default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    # Revision 0008 (issue #18): the database login that wrote the row. On PostgreSQL a
    # trigger sets it from session_user, whatever the client sends; SQLite leaves it NULL.
    requester: Mapped[str | None] = mapped_column(String(64))


class ConnectRequest(Base):
    """A shared-mode console's Connect or Disconnect, carried out by the collector.

    Revision 0009 (issue #18): a console on a shared database holds no Smartcar secret, so
    it hands what Connect's redirect gave it (V3: the user id; v2.0: the one-time
    authorization code) to the collector, which links the car and sets ``state`` to
    ``linked`` / ``disconnected`` or ``failed`` with ``error``. On PostgreSQL a trigger
    writes ``requester`` from ``session_user`` and the initial state (app/models/roles.py).
    """

    __tablename__ = "connect_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # "connect" or "disconnect"
    api_version: Mapped[str] = mapped_column(String(8), default="2.0")
    smartcar_user_id: Mapped[str | None] = mapped_column(OutsideString(64))
    #: v2.0's authorization code: single-use, cleared once the request ends, and readable
    #: only by the collector (deferred: a console's reads of its request never name it).
    code: Mapped[str | None] = mapped_column(OutsideText(), deferred=True)
    #: Disconnect: the connection to end; connect: the connection made (once linked).
    connection_id: Mapped[int | None] = mapped_column(Integer)
    requester: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    error: Mapped[str] = mapped_column(OutsideText(), default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


#: "The rental is open" in SQL: not in a terminal state. ``ended_at`` cannot serve, because
#: billing sets it one step before the rental is completed (billing_complete is open).
OPEN_RENTAL_SQL = "state NOT IN ({})".format(
    ", ".join(f"'{s.value}'" for s in sorted(TERMINAL_RENTAL_STATES))
)


class Rental(Base):
    """One rental session; revision 0003 lets the database itself refuse a second open
    rental of a vehicle, because the service's check-then-insert races on PostgreSQL
    when two workstations start the same car at once."""

    __tablename__ = "rental"
    __table_args__ = (
        Index(
            "uq_rental_open_vehicle",
            "vehicle_id",
            unique=True,
            sqlite_where=text(OPEN_RENTAL_SQL),
            postgresql_where=text(OPEN_RENTAL_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str] = mapped_column(String(80))
    customer_ref: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime]
    check_in_deadline: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    start_fuel_pct: Mapped[float | None] = mapped_column(Float)
    start_charge_pct: Mapped[float | None] = mapped_column(Float)
    start_odometer_km: Mapped[float | None] = mapped_column(Float)
    start_latitude: Mapped[float | None] = mapped_column(Float)
    start_longitude: Mapped[float | None] = mapped_column(Float)
    end_fuel_pct: Mapped[float | None] = mapped_column(Float)
    end_charge_pct: Mapped[float | None] = mapped_column(Float)
    end_odometer_km: Mapped[float | None] = mapped_column(Float)
    end_latitude: Mapped[float | None] = mapped_column(Float)
    end_longitude: Mapped[float | None] = mapped_column(Float)
    surcharge_lines: Mapped[list | None] = mapped_column(JSON)
    surcharge_total: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    note: Mapped[str] = mapped_column(Text, default="")


class Alert(Base):
    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8), default="warning")
    message: Mapped[str] = mapped_column(Text, default="")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    cleared_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[datetime | None]


class Zone(Base):
    """A named polygon on the map (revision 0010, issue #19): a service area, a parking or
    no-parking zone, a slow zone. ``ring`` is JSON text of [lon, lat] pairs (WGS84, the
    first point not repeated), the same on SQLite and PostgreSQL; app.models.zones checks
    it before it is stored."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    ring: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: Goes up by one with every edit: what tells another process its index is out of
    #: date (a timestamp cannot, workstation clocks differ).
    revision: Mapped[int] = mapped_column(Integer, default=1)


class ZonePresence(Base):
    """Which zones each vehicle is in now (one row per vehicle once its position was
    checked), so a restart neither re-raises enter events nor forgets an exit."""

    __tablename__ = "zone_presence"

    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True
    )
    zone_ids: Mapped[list] = mapped_column(JSON)
    checked_at: Mapped[datetime]


class ZoneEvent(Base):
    """One vehicle entering or leaving one zone, where it was seen when it did."""

    __tablename__ = "zone_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id", ondelete="CASCADE"))
    zone_id: Mapped[int] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(8))  # "enter" or "exit"
    at: Mapped[datetime]
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_zone_event_vehicle_at", "vehicle_id", "at"),)


#: "The field task still needs someone" in SQL. Frozen as text beside the state machine's
#: OPEN_STATES (app.services.field_tasks.states), which a unit test holds equal to it.
OPEN_TASK_SQL = "state IN ('open', 'assigned', 'in_progress')"


class FieldTask(Base):
    """Work for someone in the street: swap a battery, rebalance, inspect, repair, collect.

    Revision 0011: the partial unique index lets the database itself refuse a second open
    task of one kind for one vehicle, because two rule runs (or two workstations) can both
    check and then insert. ``created_by`` is the database login on PostgreSQL (a trigger
    sets it from session_user), the operating-system user on SQLite.
    """

    __tablename__ = "field_task"
    __table_args__ = (
        Index(
            "uq_field_task_open_kind",
            "vehicle_id",
            "kind",
            unique=True,
            sqlite_where=text(OPEN_TASK_SQL),
            postgresql_where=text(OPEN_TASK_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    due_at: Mapped[datetime | None]
    assignee: Mapped[str] = mapped_column(String(80), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: Which rule raised it ("" for a task made by hand), e.g. "battery below 20 %".
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class MaintenancePlan(Base):
    """When a vehicle is next due for service: every ``every_km`` and/or ``every_months``
    counted from the last service, or as soon as oil life drops below ``oil_below_pct``."""

    __tablename__ = "maintenance_plan"

    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True
    )
    every_km: Mapped[float | None] = mapped_column(Float)
    every_months: Mapped[int | None] = mapped_column(Integer)
    last_service_km: Mapped[float | None] = mapped_column(Float)
    last_service_at: Mapped[datetime | None]
    oil_below_pct: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime]


class Notification(Base):
    """One alert sent (or to be sent) outside the console, written BEFORE the attempt so a
    failing channel never loses it (revision 0012). ``alert_id`` is NULL for a test e-mail.
    ``state`` is queued, sent or failed; a failed row with ``next_attempt_at`` is retried
    then, one without it has given up (``attempts`` used, ``last_error`` says why)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
