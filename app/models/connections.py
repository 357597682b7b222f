"""Smartcar connections (the ``smartcar_connection`` table): the repository the service uses.

Rows leave as frozen :class:`ConnectionRecord` values without the token ciphertext; tokens are
read and written only through the dedicated methods, so nothing that lists or shows
connections ever carries them. The token columns are deferred in the mapping and
``has_tokens`` says whether a pair is stored: a person's console, whose database role may
not read those columns, lists and shows connections with queries that never name them.
A disconnected row stays (history) and a reconnect after it writes a new row; the fleet
list shows only the latest non-disconnected one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import func, select, update

from app.models.database import Database
from app.models.enums import ConnectionStatus, ConnectionType
from app.models.orm import Command, SmartcarConnection, Vehicle


@dataclass(frozen=True, slots=True)
class EncryptedTokens:
    """Ciphertext of one token pair and its expiries, as stored."""

    access: bytes
    refresh: bytes
    access_expires_at: datetime
    refresh_expires_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """One connection with the vehicle it belongs to (for panels and the Connections view)."""

    id: int
    vehicle_id: int
    vehicle_name: str
    fleet_number: str
    make: str
    model: str
    year: int | None
    vin: str | None
    smartcar_vehicle_id: str
    smartcar_user_id: str | None
    status: str
    status_reason: str
    granted_scopes: tuple[str, ...]
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    connected_at: datetime | None
    last_sync_at: datetime | None
    last_command_at: datetime | None
    last_error: str
    #: The connection can make API calls: v2.0 with a stored token pair, or V3 (which
    #: needs only the user id) and not disconnected.
    can_call: bool
    requests_this_month: int = 0  # billed Smartcar requests in the current UTC month
    last_error_at: datetime | None = None  # when ``last_error`` happened (None: unknown)
    api_version: str = "2.0"
    #: The V3 webhook subscription: "" (none), "pending", "subscribed", "failed".
    webhook_state: str = ""
    webhook_error: str = ""
    last_delivery_at: datetime | None = None

    @property
    def v3(self) -> bool:
        return self.api_version == "3"


@dataclass(frozen=True, slots=True)
class VehicleIdentity:
    """What linking needs to know about a console vehicle."""

    id: int
    name: str
    fleet_number: str
    kind: str
    make: str
    model: str
    year: int | None
    vin: str | None


def _record(c: SmartcarConnection, v: Vehicle) -> ConnectionRecord:
    return ConnectionRecord(
        id=c.id,
        vehicle_id=c.vehicle_id,
        vehicle_name=v.name,
        fleet_number=v.fleet_number,
        make=v.make,
        model=v.model,
        year=v.year,
        vin=v.vin,
        smartcar_vehicle_id=c.smartcar_vehicle_id,
        smartcar_user_id=c.smartcar_user_id,
        status=c.status,
        status_reason=c.status_reason,
        granted_scopes=tuple(c.granted_scopes or ()),
        access_expires_at=c.access_expires_at,
        refresh_expires_at=c.refresh_expires_at,
        connected_at=c.connected_at,
        last_sync_at=c.last_sync_at,
        last_command_at=c.last_command_at,
        last_error=c.last_error,
        last_error_at=c.last_error_at if c.last_error else None,
        can_call=c.has_tokens
        or (c.api_version == "3" and c.status != ConnectionStatus.DISCONNECTED.value),
        requests_this_month=(
            c.requests_this_month if c.budget_month == datetime.now(UTC).strftime("%Y-%m") else 0
        ),
        api_version=c.api_version,
        webhook_state=c.webhook_state,
        webhook_error=c.webhook_error,
        last_delivery_at=c.last_delivery_at,
    )


def _identity(v: Vehicle) -> VehicleIdentity:
    return VehicleIdentity(v.id, v.name, v.fleet_number, v.kind, v.make, v.model, v.year, v.vin)


class ConnectionRepository:
    """Blocking reads and writes of connections; call every method via ``Database.run``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- reading ---------------------------------------------------------------------------

    def get(self, connection_id: int) -> ConnectionRecord | None:
        with self._db.session() as s:
            c = s.get(SmartcarConnection, connection_id)
            return None if c is None else _record(c, s.get_one(Vehicle, c.vehicle_id))

    def latest_for_vehicle(self, vehicle_id: int) -> ConnectionRecord | None:
        """The vehicle's newest connection, disconnected ones included (the panel shows them)."""
        with self._db.session() as s:
            c = s.scalars(
                select(SmartcarConnection)
                .where(SmartcarConnection.vehicle_id == vehicle_id)
                .order_by(SmartcarConnection.id.desc())
                .limit(1)
            ).first()
            if c is None:
                return None
            # "Last command" is what the audit trail says: every Smartcar command is
            # audited before it is sent, sent or not (the column alone only saw successes).
            audited = s.scalar(
                select(func.max(Command.created_at)).where(
                    Command.vehicle_id == vehicle_id, Command.channel == "smartcar"
                )
            )
            record = _record(c, s.get_one(Vehicle, vehicle_id))
            stamps = [t for t in (record.last_command_at, audited) if t is not None]
            return replace(record, last_command_at=max(stamps)) if stamps else record

    def latest_per_vehicle(self) -> list[ConnectionRecord]:
        """Every vehicle's newest connection (the Connections view), archived vehicles left out."""
        newest = (
            select(func.max(SmartcarConnection.id)).group_by(SmartcarConnection.vehicle_id)
        ).scalar_subquery()
        with self._db.session() as s:
            rows = s.execute(
                select(SmartcarConnection, Vehicle)
                .join(Vehicle, Vehicle.id == SmartcarConnection.vehicle_id)
                .where(SmartcarConnection.id.in_(newest), Vehicle.archived_at.is_(None))
            ).all()
            return [_record(c, v) for c, v in rows]

    def with_tokens(self, statuses: tuple[str, ...]) -> list[ConnectionRecord]:
        """Connections in ``statuses`` that still hold tokens (the refresher's work list)."""
        with self._db.session() as s:
            rows = s.execute(
                select(SmartcarConnection, Vehicle)
                .join(Vehicle, Vehicle.id == SmartcarConnection.vehicle_id)
                .where(
                    SmartcarConnection.status.in_(statuses),
                    SmartcarConnection.has_tokens.is_(True),
                )
            ).all()
            return [_record(c, v) for c, v in rows]

    def tokens(self, connection_id: int) -> EncryptedTokens | None:
        """The stored pair (the collector's role only: people may not read these columns)."""
        c = SmartcarConnection
        with self._db.session() as s:
            row = s.execute(
                select(
                    c.access_token_enc,
                    c.refresh_token_enc,
                    c.access_expires_at,
                    c.refresh_expires_at,
                ).where(c.id == connection_id)
            ).first()
            if row is None:
                return None
            access, refresh, access_expires, refresh_expires = row
            if access is None or refresh is None or access_expires is None or not refresh_expires:
                return None
            return EncryptedTokens(access, refresh, access_expires, refresh_expires)

    def sibling_tokens(self, connection_id: int) -> dict[int, bytes]:
        """Encrypted refresh tokens of the other live connections of the same Smartcar user.

        One Connect grant can cover several cars; they share a token pair, and a refresh
        rotates it for all of them. The caller decrypts these to find the ones to update.
        """
        with self._db.session() as s:
            c = s.get_one(SmartcarConnection, connection_id)
            if c.smartcar_user_id is None:
                return {}
            rows = s.execute(
                select(SmartcarConnection.id, SmartcarConnection.refresh_token_enc).where(
                    SmartcarConnection.smartcar_user_id == c.smartcar_user_id,
                    SmartcarConnection.id != connection_id,
                    SmartcarConnection.refresh_token_enc.is_not(None),
                )
            ).all()
            return {i: blob for i, blob in rows if blob is not None}  # the query's filter

    def vehicle(self, vehicle_id: int) -> VehicleIdentity | None:
        with self._db.session() as s:
            v = s.get(Vehicle, vehicle_id)
            return None if v is None else _identity(v)

    def vehicle_by_vin(self, vin: str) -> VehicleIdentity | None:
        with self._db.session() as s:
            v = s.scalars(select(Vehicle).where(Vehicle.vin == vin)).first()
            return None if v is None else _identity(v)

    # -- writing ---------------------------------------------------------------------------

    def save_link(
        self,
        vehicle_id: int,
        *,
        smartcar_vehicle_id: str,
        smartcar_user_id: str | None,
        scopes: list[str],
        tokens: EncryptedTokens | None,
        status: str,
        reason: str,
        now: datetime,
        identity: tuple[str, str, int | None, str | None],
    ) -> int:
        """Store a (re)connection and the Smartcar identity on the vehicle, in one transaction.

        Reconnecting the same car updates its live row (history, ``connected_at`` kept);
        anything else closes older live rows of the vehicle and starts a new one. ``tokens``
        None is a V3 connection: no token pair is stored, the user id is the credential.
        """
        make, model, year, vin = identity
        with self._db.session() as s:
            vehicle = s.get_one(Vehicle, vehicle_id)
            vehicle.make, vehicle.model, vehicle.year, vehicle.vin = make, model, year, vin
            vehicle.connection_type = ConnectionType.SMARTCAR.value
            vehicle.updated_at = now
            live = list(
                s.scalars(
                    select(SmartcarConnection).where(
                        SmartcarConnection.vehicle_id == vehicle_id,
                        SmartcarConnection.status != ConnectionStatus.DISCONNECTED.value,
                    )
                )
            )
            row = next((c for c in live if c.smartcar_vehicle_id == smartcar_vehicle_id), None)
            for other in live:
                if other is not row:
                    _wipe(other, "Replaced by a connection to another Smartcar vehicle.")
            if row is None:
                row = SmartcarConnection(
                    vehicle_id=vehicle_id, smartcar_vehicle_id=smartcar_vehicle_id, connected_at=now
                )
                s.add(row)
            row.smartcar_user_id = smartcar_user_id
            row.granted_scopes = list(scopes)
            row.status, row.status_reason, row.last_error = status, reason, ""
            row.last_sync_at = now
            if tokens is None:
                row.api_version = "3"
                _clear_tokens(row)
            else:
                row.api_version = "2.0"
                _put_tokens(row, tokens)
            s.flush()
            return row.id

    def store_tokens(self, connection_ids: list[int], tokens: EncryptedTokens) -> None:
        """Persist a rotated pair on every connection that shares it, atomically."""
        with self._db.session() as s:
            for connection_id in connection_ids:
                _put_tokens(s.get_one(SmartcarConnection, connection_id), tokens)

    def set_status(
        self, connection_id: int, status: str, reason: str, *, error: str | None = None
    ) -> None:
        values: dict[str, object] = {"status": status, "status_reason": reason}
        if error is not None:
            values["last_error"] = error
            values["last_error_at"] = datetime.now(UTC) if error else None
        self._update(connection_id, values)

    def mark_synced(
        self, connection_id: int, now: datetime, scopes: list[str], status: str, reason: str
    ) -> None:
        self._update(
            connection_id,
            {
                "last_sync_at": now,
                "granted_scopes": list(scopes),
                "status": status,
                "status_reason": reason,
                "last_error": "",
            },
        )

    def set_webhook(self, connection_id: int, state: str, error: str = "") -> None:
        """The V3 webhook subscription's state ("", pending, subscribed, failed)."""
        self._update(connection_id, {"webhook_state": state, "webhook_error": error})

    def move_to_v3(self, connection_id: int, user_id: str, scopes: list[str]) -> None:
        """Make a v2.0 connection a V3 one: the user id is enough, the token pair goes."""
        with self._db.session() as s:
            row = s.get_one(SmartcarConnection, connection_id)
            row.api_version = "3"
            row.smartcar_user_id = user_id
            row.granted_scopes = list(scopes)
            _clear_tokens(row)

    def live_v3(self) -> list[ConnectionRecord]:
        """Every V3 connection that is not disconnected (webhook routing, subscriptions)."""
        with self._db.session() as s:
            rows = s.execute(
                select(SmartcarConnection, Vehicle)
                .join(Vehicle, Vehicle.id == SmartcarConnection.vehicle_id)
                .where(
                    SmartcarConnection.api_version == "3",
                    SmartcarConnection.status != ConnectionStatus.DISCONNECTED.value,
                )
            ).all()
            return [_record(c, v) for c, v in rows]

    def mark_command(self, connection_id: int, now: datetime) -> None:
        self._update(connection_id, {"last_command_at": now})

    def disconnect(self, connection_id: int, reason: str) -> None:
        """Wipe the tokens and mark the row disconnected; the row itself is history and stays."""
        with self._db.session() as s:
            _wipe(s.get_one(SmartcarConnection, connection_id), reason)

    def _update(self, connection_id: int, values: dict[str, object]) -> None:
        with self._db.session() as s:
            s.execute(
                update(SmartcarConnection)
                .where(SmartcarConnection.id == connection_id)
                .values(**values)
            )


def _put_tokens(row: SmartcarConnection, tokens: EncryptedTokens) -> None:
    row.access_token_enc, row.refresh_token_enc = tokens.access, tokens.refresh
    row.access_expires_at = tokens.access_expires_at
    row.refresh_expires_at = tokens.refresh_expires_at
    row.has_tokens = True


def _clear_tokens(row: SmartcarConnection) -> None:
    row.access_token_enc = row.refresh_token_enc = None
    row.access_expires_at = row.refresh_expires_at = None
    row.has_tokens = False


def _wipe(row: SmartcarConnection, reason: str) -> None:
    row.status = ConnectionStatus.DISCONNECTED.value
    row.status_reason = reason
    _clear_tokens(row)
