"""An MQTT vendor profile: which topics carry reports, how their JSON maps to records.

Both built-in profiles read flespi-style messages: one flat JSON object (or an array of
them) whose keys are dotted parameter names (``position.latitude``, ``battery.level``).
A profile is data (topic patterns, a key -> record field table, alarm keys, command
payloads), so a vendor that names its keys differently is a new table, not new code.

Topic patterns use ``{ident}`` for the level that carries the device id
(``zimo/{ident}/report``) and ``+`` for levels that are matched but not used
(``flespi/message/gw/devices/+``: flespi's own device number, the IMEI is in the
payload's ``ident``). Where both say who it is they must agree, or the message is refused.

Everything here raises :class:`FrameError` on bad input, with a message an operator can
read; it never guesses a value it cannot parse.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.integrations.iot.records import DeviceRecord, FrameError, LockState, RecordKind

MAX_PAYLOAD = 64 * 1024  # a report is a few hundred bytes; anything huge is not one
MAX_MESSAGES = 256  # messages in one array payload (flespi batches a device's backlog)
MAX_IDENT = 32
_IDENT_FORBIDDEN = frozenset("#+/")

# DeviceRecord fields a payload key may map to, with how the value is read.
_FLOATS = frozenset(
    {"latitude", "longitude", "speed_kmh", "course_deg", "altitude_m", "battery_pct", "odometer_km"}
)
_BOOLS = frozenset({"valid_fix", "charging"})
_RANGES: dict[str, tuple[float, float]] = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0)}


@dataclass(frozen=True, slots=True)
class MqttProfile:
    """One vendor's MQTT conventions; ``protocol`` is what devices register with.

    ``fields`` maps payload keys to DeviceRecord fields (``fix_time``, ``lock_state``,
    ``satellites``, ``firmware`` and the float/bool fields); ``alarms`` maps boolean
    payload keys to the alarm names stored when true; ``attributes`` are kept as they
    are. ``commands`` maps an action to the JSON object published on ``command_topic``,
    where the string ``"{seq}"`` is replaced by the command's number.
    """

    name: str
    protocol: str
    report_topic: str
    ident_field: str | None
    fields: Mapping[str, str]
    alarms: Mapping[str, str] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()
    command_topic: str | None = None
    commands: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    qos: int = 1
    source: str = ""  # what the mapping rests on (README and the code say it too)

    def __post_init__(self) -> None:
        levels = self.report_topic.split("/")
        if "{ident}" not in levels and self.ident_field is None:
            raise ValueError(f"profile {self.name}: no ident in the topic nor the payload")
        if self.commands and (self.command_topic is None or "{ident}" not in self.command_topic):
            raise ValueError(f"profile {self.name}: commands need a command topic with {{ident}}")

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self.commands)

    def topic_filter(self, prefix: str = "") -> str:
        """The subscription: the report pattern with ``{ident}`` as a wildcard level."""
        return _prefixed(prefix, self.report_topic.replace("{ident}", "+"))

    def ident_in_topic(self, topic: str, prefix: str = "") -> str | None:
        """The ident the topic names (None if the pattern has no ``{ident}``).

        FrameError when the topic does not match the pattern at all.
        """
        pattern = _prefixed(prefix, self.report_topic).split("/")
        levels = topic.split("/")
        if len(levels) != len(pattern):
            raise FrameError(f"topic {topic!r} does not match {self.topic_filter(prefix)!r}")
        ident = None
        for want, got in zip(pattern, levels, strict=True):
            if want == "{ident}":
                ident = got
            elif want != "+" and want != got:
                raise FrameError(f"topic {topic!r} does not match {self.topic_filter(prefix)!r}")
        return None if ident is None else check_ident(ident)

    def decode(self, topic: str, payload: bytes, prefix: str = "") -> list[DeviceRecord]:
        """Every message of one MQTT publish as records; FrameError for any bad part.

        All or nothing: one broken message of an array refuses the publish, because the
        device (or flespi) sends it again as a whole.
        """
        topic_ident = self.ident_in_topic(topic, prefix)
        if len(payload) > MAX_PAYLOAD:
            raise FrameError(f"payload of {len(payload)} bytes (at most {MAX_PAYLOAD})")
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            raise FrameError(f"payload is not JSON: {exc}") from None
        except RecursionError:
            raise FrameError("payload is not JSON: nested too deeply") from None
        messages = data if isinstance(data, list) else [data]
        if not messages or len(messages) > MAX_MESSAGES:
            raise FrameError(f"payload holds {len(messages)} messages (1 to {MAX_MESSAGES})")
        return [self._record(m, topic_ident, payload) for m in messages]

    def encode_command(
        self, ident: str, action: str, sequence: int, prefix: str = ""
    ) -> tuple[str, bytes]:
        """(topic, payload) of ``action`` for ``ident``; ValueError if the profile has none."""
        template = self.commands.get(action)
        if template is None or self.command_topic is None:
            offer = ", ".join(self.commands) or "none"
            raise ValueError(f"{self.protocol} has no '{action}' command (it has: {offer})")
        body = {k: sequence if v == "{seq}" else v for k, v in template.items()}
        topic = _prefixed(prefix, self.command_topic.replace("{ident}", check_ident(ident)))
        return topic, json.dumps(body, separators=(",", ":")).encode()

    def _record(self, message: object, topic_ident: str | None, raw: bytes) -> DeviceRecord:
        if not isinstance(message, dict):
            raise FrameError(f"a message is a JSON {type(message).__name__}, not an object")
        ident = topic_ident
        if self.ident_field is not None:
            value = message.get(self.ident_field)
            if value is None and ident is None:
                raise FrameError(f"message without {self.ident_field!r}")
            if value is not None:
                if not isinstance(value, str | int) or isinstance(value, bool):
                    raise FrameError(f"{self.ident_field!r} is not a string")
                payload_ident = check_ident(str(value))
                if ident is not None and payload_ident != ident:
                    raise FrameError(f"topic names {ident!r} but the payload {payload_ident!r}")
                ident = payload_ident
        assert ident is not None  # __post_init__: a pattern without {ident} has ident_field
        values: dict[str, Any] = {}
        for key, target in self.fields.items():
            if key in message and message[key] is not None:
                values[target] = _convert(target, key, message[key])
        alarms = tuple(name for key, name in self.alarms.items() if message.get(key) is True)
        attributes = {key: message[key] for key in self.attributes if key in message}
        positioned = "latitude" in values and "longitude" in values
        values.setdefault("valid_fix", positioned)
        kind = RecordKind.POSITION if positioned else RecordKind.STATUS
        if alarms and not positioned:
            kind = RecordKind.ALARM
        return DeviceRecord(
            protocol=self.protocol,
            kind=kind,
            device_id=ident,
            raw=raw,
            alarms=alarms,
            attributes=attributes,
            **values,
        )


def check_ident(ident: str) -> str:
    """``ident`` if it can be a device id (flespi's rule: no ``#+/``, printable ASCII)."""
    if not ident or len(ident) > MAX_IDENT:
        raise FrameError(f"device ident of {len(ident)} characters (1 to {MAX_IDENT})")
    if not ident.isascii() or not ident.isprintable() or _IDENT_FORBIDDEN & set(ident):
        raise FrameError(f"device ident {ident!r} has characters no device id has")
    return ident


def _prefixed(prefix: str, topic: str) -> str:
    return f"{prefix.strip('/')}/{topic}" if prefix.strip("/") else topic


def _convert(target: str, key: str, value: object) -> object:
    """One payload value as the record field ``target`` wants it; FrameError names ``key``."""
    if target in _FLOATS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FrameError(f"{key} is not a number: {value!r}")
        number = float(value)
        low, high = _RANGES.get(target, (-math.inf, math.inf))
        if not math.isfinite(number) or not low <= number <= high:
            raise FrameError(f"{key} out of range: {value!r}")
        return number
    if target in _BOOLS:
        if not isinstance(value, bool):
            raise FrameError(f"{key} is not true/false: {value!r}")
        return value
    if target == "lock_state":
        if not isinstance(value, bool):
            raise FrameError(f"{key} is not true/false: {value!r}")
        return LockState.LOCKED if value else LockState.UNLOCKED
    if target == "satellites":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise FrameError(f"{key} is not a satellite count: {value!r}")
        return value
    if target == "fix_time":
        return _timestamp(key, value)
    if target == "firmware":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FrameError(f"{key} is not a version: {value!r}")
        return str(value)
    raise ValueError(f"profile maps {key} to unknown record field {target!r}")


def _timestamp(key: str, value: object) -> datetime:
    """flespi's ``timestamp``: Unix seconds (fraction = microseconds) or ISO 8601 UTC."""
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        pass
    raise FrameError(f"{key} is not a time: {value!r}")
