"""Settings: every option and its default in one place, read from ``settings.toml``.

The file is optional; a missing key takes the default below. Unknown keys and bad values
are refused with a message naming the key and what is wrong (SettingsError), never a
traceback, so a typo in a control room's settings file is fixable by the person who made
it. Secrets (the Smartcar client secret) are deliberately not settings: they come from the
environment or the OS keyring and never sit in this plain-text file.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

Port = Annotated[int, Field(ge=0, le=65535)]

SECRET_ENV = "FLEET_SMARTCAR_CLIENT_SECRET"
#: The Application Management Token: the key of webhook signatures (never a setting).
MANAGEMENT_TOKEN_ENV = "FLEET_SMARTCAR_MANAGEMENT_TOKEN"
#: The MQTT broker password (``[iot.mqtt]`` has the user name; the password never sits
#: in the settings file).
MQTT_PASSWORD_ENV = "FLEET_MQTT_PASSWORD"
#: The SMTP login's password (``[notifications.email]`` has the user name).
SMTP_PASSWORD_ENV = "FLEET_SMTP_PASSWORD"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSettings(_Section):
    """Smartcar webhooks (API V3): where this process listens and which webhook to use.

    ``webhook_id`` is the webhook created in the Smartcar Dashboard (its callback URL is
    the public HTTPS address of a reverse proxy in front of this receiver, see README);
    demo mode registers one with the simulator itself. A subscribed car is polled only
    when no delivery came for ``gap_fill_after_min``.
    """

    enabled: bool = True
    webhook_id: str = ""
    listen_host: str = "127.0.0.1"
    listen_port: Port = 8766
    path: str = Field(default="/smartcar/webhooks", pattern="^/[A-Za-z0-9/_.-]*$")
    gap_fill_after_min: int = Field(default=360, ge=5, le=7 * 24 * 60)
    max_age_s: int = Field(default=900, ge=60, le=86_400)


class SmartcarSettings(_Section):
    """Live mode starts when a client id is set and the client secret is available.

    ``api_version`` "3" (the default) uses the application token, signals, unified
    commands and webhooks; "2.0" keeps per-car tokens and polling for applications not yet
    upgraded in the Smartcar Dashboard (v2.0 is deprecated by Smartcar as of Q4 2026).
    """

    client_id: str = ""
    #: Connect's client id in V3 is the application id (a UUID), which differs from the
    #: ``client_...`` API credential id; empty = ``client_id``.
    application_id: str = ""
    api_version: Literal["3", "2.0"] = "3"
    redirect_uri: str = "http://127.0.0.1:8765/smartcar/callback"
    connect_origin: str = "https://connect.smartcar.com"
    auth_origin: str = "https://auth.smartcar.com"
    api_origin: str = "https://api.smartcar.com"
    iam_token_url: str = "https://iam.smartcar.com/oauth2/token"
    vehicle_api_origin: str = "https://vehicle.api.smartcar.com"
    management_api_origin: str = "https://management.api.smartcar.com"
    test_mode: bool = False
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)


class TelemetrySettings(_Section):
    poll_interval_s: int = Field(default=300, ge=10, le=86_400)
    monthly_request_budget: int = Field(default=500, ge=1)
    stale_after_min: int = Field(default=30, ge=1)
    max_concurrent_requests: int = Field(default=20, ge=1, le=500)


# Every codec can sit behind a UART (a Segway or JT/T 808 module on a serial adapter); MQTT
# profiles cannot.
_SERIAL_PROTOCOLS = "nmea|omni|gl200|okai|segway|teltonika|gt06|jt808"


class SerialDeviceSettings(_Section):
    """One device on a serial port (``[[iot.serial]]``): a GPS puck or any IoT protocol."""

    port: str = Field(min_length=1)  # COM3, /dev/ttyACM0, /dev/serial/by-id/...
    device_id: str = Field(min_length=1, max_length=32)  # the registered device id (IMEI)
    protocol: str = Field(default="nmea", pattern=f"^({_SERIAL_PROTOCOLS})$")
    baud: int = Field(default=9600, ge=300, le=4_000_000)


class MqttSettings(_Section):
    """Devices over MQTT (``[iot.mqtt]``): the broker the console subscribes to.

    Empty ``broker_url`` = no MQTT in live mode (demo mode starts a local broker of its
    own). The password comes from ``FLEET_MQTT_PASSWORD``, like the other secrets.
    ``client_id`` set = a persistent session: the broker keeps QoS 1 reports while the
    console is away. ``profiles`` are the built-in MQTT profiles subscribed to.
    """

    broker_url: str = Field(default="", pattern=r"^(mqtts?://[^/\s]+)?$")
    username: str = ""
    ca_file: str = ""
    client_cert_file: str = ""
    client_key_file: str = ""
    client_id: str = Field(default="", max_length=64)
    topic_prefix: str = Field(default="", pattern=r"^[^#+]*$")
    profiles: tuple[Literal["zimo", "flespi"], ...] = ("zimo", "flespi")
    #: A device heard within this many seconds shows as online (MQTT has no per-device link).
    online_within_s: int = Field(default=300, ge=10, le=86_400)


class IotSettings(_Section):
    gateway_host: str = "0.0.0.0"
    ports: dict[str, Port] = Field(
        default_factory=lambda: {
            "omni": 5180,  # Traccar xrb28, as in the vendor profiles
            "gl200": 5004,
            "teltonika": 5027,
            "gt06": 5023,
            "nmea": 5005,
            "segway": 5175,  # no Traccar protocol; see profiles.PROTOCOL_PORTS
            "okai": 9002,  # OKAI ZK dialect (profiles.PROTOCOL_PORTS)
        }
    )
    serial: list[SerialDeviceSettings] = Field(default_factory=list)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)


class DemoSettings(_Section):
    """Where the demo fleet lives and how big it is (Berlin Mitte by default)."""

    city: str = "Berlin"
    center_lat: float = Field(default=52.5200, ge=-90, le=90)
    center_lon: float = Field(default=13.4050, ge=-180, le=180)
    cars: int = Field(default=40, ge=0, le=10_000)
    micromobility: int = Field(default=60, ge=0, le=100_000)
    seed: int = 7


Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]


class LevelSurcharge(_Section):
    """Fuel or EV charge returned low (product.md 3.1): ``threshold`` is a flat fee when the
    level at check-out is below ``threshold_pct``; ``per_unit`` charges ``per_point`` for
    each percentage point used (start - end); ``off`` never charges."""

    mode: Literal["threshold", "per_unit", "off"] = "threshold"
    threshold_pct: float = Field(default=75.0, ge=0, le=100)
    flat_fee: Money = Decimal("45.00")
    per_point: Money = Decimal("0.50")  # assumption: Levy's per-unit default is not verified
    cap: Money | None = None


class MileageSurcharge(_Section):
    """Included kilometres per started rental day, ``per_km`` beyond (assumed defaults)."""

    enabled: bool = True
    included_km_per_day: float = Field(default=200.0, ge=0)
    per_km: Money = Decimal("0.30")
    cap: Money | None = None


class KindSurcharges(_Section):
    fuel: LevelSurcharge = Field(default_factory=LevelSurcharge)
    charge: LevelSurcharge = Field(default_factory=LevelSurcharge)
    mileage: MileageSurcharge = Field(default_factory=MileageSurcharge)


def _micromobility_surcharges() -> KindSurcharges:
    """Scooters and e-bikes are priced per minute with unlimited distance: no surcharges."""
    return KindSurcharges(
        fuel=LevelSurcharge(mode="off"),
        charge=LevelSurcharge(mode="off"),
        mileage=MileageSurcharge(enabled=False),
    )


class SurchargeSettings(_Section):
    """``[surcharges.car]``, ``[surcharges.scooter]``, ``[surcharges.e-bike]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    currency: str = Field(default="USD", max_length=8)
    #: A plug-in hybrid is billed on one energy only, never both (issue #13 item 8).
    phev_energy: Literal["fuel", "charge"] = "fuel"
    car: KindSurcharges = Field(default_factory=KindSurcharges)
    scooter: KindSurcharges = Field(default_factory=_micromobility_surcharges)
    ebike: KindSurcharges = Field(default_factory=_micromobility_surcharges, alias="e-bike")

    def for_kind(self, kind: str) -> KindSurcharges:
        return {"car": self.car, "scooter": self.scooter, "e-bike": self.ebike}.get(kind, self.car)


class RentalSettings(_Section):
    check_in_timeout_min: int = Field(default=30, ge=1, le=24 * 60)
    command_timeout_s: float = Field(default=30.0, gt=0, le=600)


class AlertSettings(_Section):
    """Alert thresholds; a level alert clears only ``hysteresis_pct`` above its threshold,
    and any alert only after its condition stayed away ``clear_after_s`` (no flapping)."""

    low_fuel_pct: float = Field(default=15.0, ge=0, le=100)
    low_charge_pct: float = Field(default=15.0, ge=0, le=100)
    hysteresis_pct: float = Field(default=5.0, ge=0, le=50)
    tire_low_kpa: float = Field(default=180.0, ge=0)
    oil_low_pct: float = Field(default=15.0, ge=0, le=100)
    connection_expiring_days: int = Field(default=7, ge=0)
    clear_after_s: int = Field(default=300, ge=0)
    sweep_interval_s: int = Field(default=60, ge=5)
    #: "Unlocked outside a rental" waits this long: a relock right after a rental, or an
    #: operator's unlock for a depot check, is not an alarm.
    unlocked_grace_s: int = Field(default=300, ge=0)


class StatusSettings(_Section):
    """How the derived vehicle status is decided (app.services.vehicles.status)."""

    discharged_below_pct: float = Field(default=15.0, ge=0, le=100)


class ZoneSettings(_Section):
    """Zones (issue #19): the GPS margin a position must be clearly inside a zone by to
    enter it and clearly outside by to leave it (app.services.zones.index), and how often
    the zone worker looks for zones edited on another workstation."""

    gps_margin_m: float = Field(default=15.0, ge=0, le=500)
    sweep_interval_s: int = Field(default=60, ge=5)


class TaskSettings(_Section):
    """``[tasks]``: the rules that create field tasks (app.services.field_tasks.rules).

    ``sweep_interval_s`` paces the periodic run for what happens without new data
    (silence, a maintenance date reached)."""

    rules_enabled: bool = True
    battery_swap_below_pct: float = Field(default=20.0, ge=0, le=100)
    silent_after_min: int = Field(default=120, ge=1, le=30 * 24 * 60)
    sweep_interval_s: int = Field(default=60, ge=5)


Severity = Literal["critical", "warning", "info"]


class ChannelRules(_Section):
    """Which alerts one channel carries: ``kinds`` empty = every kind; ``min_severity`` and
    more severe ones ("critical" > "warning" > "info")."""

    enabled: bool = True
    kinds: tuple[str, ...] = ()
    min_severity: Severity = "warning"


class EmailSettings(ChannelRules):
    """``[notifications.email]``: off until an SMTP server is set (demo mode has none).

    ``security`` "starttls" (port 587), "tls" (implicit TLS, port 465) or "none" (a relay on
    the local network). The password comes from ``FLEET_SMTP_PASSWORD``, never this file.
    """

    enabled: bool = False
    host: str = ""
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    sender: str = "fleet-console@localhost"
    recipients: tuple[str, ...] = ()
    #: CA certificates (PEM) for a server whose certificate a private CA signed; empty =
    #: the system's. The server's certificate is always verified.
    ca_file: str = ""
    #: One SMTP conversation may take this long; a server that stalls fails the attempt.
    timeout_s: float = Field(default=20.0, gt=0, le=300)


class DesktopSettings(ChannelRules):
    """``[notifications.desktop]``: a tray message on the workstation running the console."""


def _quiet_hours(value: str) -> str:
    """ "HH:MM-HH:MM" or "" (none); checked here so a typo is named at start."""
    if value:
        start, sep, end = value.partition("-")
        for part in (start, end):
            hours, colon, minutes = part.strip().partition(":")
            if not (
                sep
                and colon
                and hours.isdigit()
                and minutes.isdigit()
                and len(minutes) == 2
                and 0 <= int(hours) < 24
                and 0 <= int(minutes) < 60
            ):
                raise ValueError('quiet hours are "HH:MM-HH:MM", e.g. "22:00-06:00"')
    return value


class NotificationSettings(_Section):
    """``[notifications]``: alerts sent outside the console (app.services.notifications).

    ``quiet_hours`` ("22:00-06:00", the console's local time; may cross midnight): only
    critical alerts go out then, on every channel. A failed send is retried
    ``max_attempts`` times in all, ``retry_first_s`` doubling (at most 15 minutes apart).
    """

    quiet_hours: str = ""
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_first_s: float = Field(default=30.0, gt=0, le=3600)
    email: EmailSettings = Field(default_factory=EmailSettings)
    desktop: DesktopSettings = Field(default_factory=DesktopSettings)

    _check_quiet_hours = field_validator("quiet_hours")(_quiet_hours)


class RetentionSettings(_Section):
    """``[retention]``: how many days history rows are kept (app.services.retention); 0
    keeps them for ever. Only finished rows go: a queued or retrying notification and a
    connect request still in flight stay whatever their age. Alerts are not pruned, and
    enter/exit events and notifications explain alerts, so they are kept for a year."""

    zone_event_days: int = Field(default=365, ge=0)
    notification_days: int = Field(default=365, ge=0)
    connect_request_days: int = Field(default=7, ge=0)
    sweep_interval_s: int = Field(default=3600, ge=60)


class Settings(_Section):
    """The whole settings file."""

    database_url: str = ""
    log_level: str = Field(default="INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    smartcar: SmartcarSettings = Field(default_factory=SmartcarSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    iot: IotSettings = Field(default_factory=IotSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    surcharges: SurchargeSettings = Field(default_factory=SurchargeSettings)
    rentals: RentalSettings = Field(default_factory=RentalSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    status: StatusSettings = Field(default_factory=StatusSettings)
    zones: ZoneSettings = Field(default_factory=ZoneSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @field_validator("database_url")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        """Refuse a URL SQLAlchemy cannot use here, so it is named in the settings message
        rather than failing later, deep inside engine creation, with a traceback."""
        if value:
            try:
                make_url(value).get_dialect()
            except NoSuchModuleError:  # an ArgumentError too, so it comes first
                dialect = value.partition("://")[0]
                raise ValueError(
                    f"not a usable database URL: unknown dialect {dialect!r}"
                ) from None
            except (ArgumentError, ValueError):
                raise ValueError("not a usable database URL (dialect://user@host/db)") from None
        return value

    @property
    def live(self) -> bool:
        """True when Smartcar credentials are configured; otherwise the app runs in demo mode."""
        return bool(self.smartcar.client_id) and bool(os.environ.get(SECRET_ENV))


class SettingsError(Exception):
    """The settings file cannot be used; the message is meant for the operator."""


def _describe(error: ValidationError, source: Path) -> str:
    lines = [f"{source}: {error.error_count()} problem(s) in the settings file:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            lines.append(f"  - {key}: unknown setting (check the spelling; see README 'Settings')")
        elif key == "database_url":  # the URL may carry a password: never echo it
            lines.append(f"  - {key}: {item['msg']}")
        else:
            lines.append(f"  - {key}: {item['msg']} (got {item.get('input')!r})")
    return "\n".join(lines)


def load_settings(path: Path) -> Settings:
    """Read ``path`` (missing file = all defaults); raise SettingsError with a readable text."""
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the settings file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise SettingsError(f"{path}: not valid TOML: nested too deeply") from None
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    except RecursionError:
        raise SettingsError(f"{path}: a value is nested too deeply to be a setting") from None
