"""V3 signals (REST and webhook forms) parsed into the console's typed readings.

The same parsers serve ``GET /v3/vehicles/{id}/signals`` (JSON:API: ``attributes.code``,
``attributes.status``, ``attributes.body``) and webhook ``VEHICLE_STATE`` payloads (flat:
``code``, ``status``, ``body``), so a poll and a push of the same car can never disagree.

Rules the sources force on us (see the V3 reference, sections 2.4 and 3):

* each signal succeeds or fails on its own inside an HTTP 200: ``status.value`` is
  ``SUCCESS`` or ``ERROR`` and a failed signal may still carry a stale body, which is never
  used;
* percentages are 0-100 (v2.0 used fractions), stored here as fractions like v2.0's;
* units are named in the body and their spelling varies (``km``/``kilometers``,
  ``kPa``/``bar``); an unknown unit fails that reading rather than storing a wrong number;
* timestamps are epoch milliseconds or ISO strings (``0`` means unknown).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.integrations.smartcar.errors import (
    CompatibilityError,
    Resolution,
    SmartcarApiError,
    SmartcarError,
    SmartcarProtocolError,
)
from app.integrations.smartcar.models import (
    SNAPSHOT_FIELDS,
    BatchItem,
    BatchResult,
    Battery,
    Charge,
    DataKind,
    EngineOil,
    Fuel,
    Location,
    LockStatus,
    Odometer,
    Opening,
    Reading,
    ResponseMeta,
    TirePressure,
    VehicleSnapshot,
    Vin,
    snapshot_from_batch,
)
from app.integrations.smartcar.units import KM_PER_MILE, KPA_PER_PSI, L_PER_GALLON
from app.integrations.smartcar.v3_wire import error_from_object
from app.integrations.smartcar.wire import obj

logger = logging.getLogger(__name__)

#: A tire "bar" value above this is really kPa (real captures label kPa numbers "bar").
_BAR_CEILING = 20.0

_KM = {"km": 1.0, "kilometers": 1.0, "kilometres": 1.0, "mi": KM_PER_MILE, "miles": KM_PER_MILE}
_LITERS = {"l": 1.0, "liters": 1.0, "litres": 1.0, "gal": L_PER_GALLON, "gallons": L_PER_GALLON}
_PERCENT = {"percent", "%", "percentage"}


@dataclass(frozen=True)
class Signal:
    """One signal, whichever form it came in; ``body`` is None unless it succeeded."""

    code: str
    body: Mapping[str, Any] | None
    error: SmartcarApiError | None
    oem_updated_at: datetime | None
    retrieved_at: datetime | None


def when(value: Any) -> datetime | None:
    """Epoch milliseconds (or seconds, for the docs example that looks like them) or an
    ISO-8601 string; 0, garbage or absent: None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        seconds = value / 1000 if value > 10**11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def parse_signal(raw: Any) -> Signal | None:
    """One signal object (REST or webhook form); None when it has no usable code."""
    if not isinstance(raw, Mapping):
        return None
    attributes = raw.get("attributes")
    fields = attributes if isinstance(attributes, Mapping) else raw
    code = fields.get("code", raw.get("id"))
    if not isinstance(code, str) or not code:
        return None
    meta = raw.get("meta") if isinstance(raw.get("meta"), Mapping) else {}
    assert isinstance(meta, Mapping)
    status = fields.get("status")
    value = status.get("value") if isinstance(status, Mapping) else None
    body = fields.get("body")
    if value == "SUCCESS" and isinstance(body, Mapping):
        return Signal(
            code.lower(), body, None, when(meta.get("oemUpdatedAt")), when(meta.get("retrievedAt"))
        )
    error: SmartcarApiError
    raw_error = status.get("error") if isinstance(status, Mapping) else None
    try:
        if not isinstance(raw_error, Mapping):
            raise SmartcarProtocolError("no error object")
        error = error_from_object(raw_error)
    except SmartcarProtocolError:
        error = SmartcarApiError(
            status=502,
            type="SERVER",
            code="SIGNAL_STATUS",
            description=f"signal {code} has neither a SUCCESS body nor an error",
            request_id=None,
        )
    return Signal(code.lower(), None, error, None, None)


def parse_signals(items: Any) -> dict[str, Signal]:
    """The signals of one answer by code; entries without a code are skipped."""
    if not isinstance(items, list):
        raise SmartcarProtocolError("signals: expected a list")
    parsed = (parse_signal(item) for item in items)
    return {s.code: s for s in parsed if s is not None}


# -- field helpers --------------------------------------------------------------------------


def _num(body: Mapping[str, Any], key: str = "value") -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SmartcarProtocolError(f"field {key!r}: expected a number")
    return float(value)


def _unit(body: Mapping[str, Any], table: Mapping[str, float], default: str) -> float:
    unit = body.get("unit", default)
    factor = table.get(unit.lower()) if isinstance(unit, str) else None
    if factor is None:
        raise SmartcarProtocolError(f"unknown unit {unit!r}")
    return factor


def _percent(body: Mapping[str, Any]) -> float | None:
    value = _num(body)
    if value is None:
        return None
    unit = body.get("unit", "percent")
    if not isinstance(unit, str) or unit.lower() not in _PERCENT:
        raise SmartcarProtocolError(f"unknown unit {unit!r} for a percentage")
    if not 0.0 <= value <= 100.0:
        raise SmartcarProtocolError(f"{value} is not a percentage 0-100")
    return value / 100.0


def _bool(body: Mapping[str, Any], key: str = "value") -> bool | None:
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise SmartcarProtocolError(f"field {key!r}: expected true/false")


def _km(body: Mapping[str, Any]) -> float | None:
    value = _num(body)
    return None if value is None else value * _unit(body, _KM, "km")


# -- one parser per reading kind ------------------------------------------------------------

Signals = Mapping[str, Signal]


def _ok(signals: Signals, code: str) -> Mapping[str, Any] | None:
    signal = signals.get(code)
    return signal.body if signal is not None else None


def _location(s: Signals) -> Location | None:
    body = _ok(s, "location-preciselocation")
    if body is None:
        return None
    lat, lon = _num(body, "latitude"), _num(body, "longitude")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise SmartcarProtocolError(f"coordinates missing or out of range: {lat}, {lon}")
    return Location(lat, lon)


def _odometer(s: Signals) -> Odometer | None:
    body = _ok(s, "odometer-traveleddistance")
    if body is None:
        return None
    km = _km(body)
    if km is None or km < 0:
        raise SmartcarProtocolError("odometer missing or negative")
    return Odometer(km)


def _fuel(s: Signals) -> Fuel | None:
    level = _ok(s, "internalcombustionengine-fuellevel")
    amount = _ok(s, "internalcombustionengine-amountremaining")
    range_ = _ok(s, "internalcombustionengine-range")
    if level is None and amount is None and range_ is None:
        return None
    liters = None
    if amount is not None and (value := _num(amount)) is not None:
        liters = value * _unit(amount, _LITERS, "liters")
    return Fuel(
        liters,
        _percent(level) if level is not None else None,
        _km(range_) if range_ is not None else None,
    )


def _battery(s: Signals) -> Battery | None:
    soc = _ok(s, "tractionbattery-stateofcharge")
    if soc is None:
        return None
    percent = _percent(soc)
    if percent is None:
        raise SmartcarProtocolError("state of charge without a value")
    range_ = _ok(s, "tractionbattery-range")
    return Battery(percent, _km(range_) if range_ is not None else None)


def _charge(s: Signals) -> Charge | None:
    plugged = _ok(s, "charge-ischargingcableconnected")
    detail = _ok(s, "charge-detailedchargingstatus")
    charging = _ok(s, "charge-ischarging")
    if plugged is None or (detail is None and charging is None):
        return None
    is_plugged = _bool(plugged)
    if is_plugged is None:
        raise SmartcarProtocolError("charging cable state without a value")
    state = detail.get("value") if detail is not None else None
    if not isinstance(state, str):
        flowing = _bool(charging) if charging is not None else None
        state = "CHARGING" if flowing else "NOT_CHARGING"
    return Charge(is_plugged, state)


_SIDES = {(0, 0): "frontLeft", (0, 1): "frontRight", (1, 0): "backLeft", (1, 1): "backRight"}


def _grid(body: Mapping[str, Any] | None, what: str) -> list[tuple[str, Mapping[str, Any]]]:
    if body is None:
        return []
    values = body.get("values")
    if not isinstance(values, list):
        raise SmartcarProtocolError(f"{what}: 'values' is not a list")
    cells = []
    for item in values:
        cell = obj(item, what)
        row, column = cell.get("row"), cell.get("column")
        if isinstance(row, int) and isinstance(column, int):
            cells.append((_SIDES.get((row, column), f"row{row}column{column}"), cell))
    return cells


def _state(is_open: Any) -> str:
    return "UNKNOWN" if not isinstance(is_open, bool) else ("OPEN" if is_open else "CLOSED")


def _lock_status(s: Signals) -> LockStatus | None:
    locked = _ok(s, "closure-islocked")
    if locked is None:
        return None
    is_locked = _bool(locked)
    if is_locked is None:
        raise SmartcarProtocolError("lock state without a value")
    doors = tuple(
        Opening(side, _state(c.get("isOpen")))
        for side, c in _grid(_ok(s, "closure-doors"), "doors")
    )
    windows = tuple(
        Opening(side, _state(c.get("isOpen")))
        for side, c in _grid(_ok(s, "closure-windows"), "windows")
    )
    storage = tuple(
        Opening(name, _state(body.get("isOpen")))
        for name, code in (("front", "closure-fronttrunk"), ("rear", "closure-reartrunk"))
        if (body := _ok(s, code)) is not None
    )
    roof = _ok(s, "closure-sunroof")
    sunroof = (Opening("sunroof", _state(roof.get("isOpen"))),) if roof is not None else ()
    return LockStatus(is_locked, doors, windows, sunroof, storage, ())


def _tires(s: Signals) -> TirePressure | None:
    body = _ok(s, "wheel-tires")
    if body is None:
        return None
    unit = body.get("unit", "kPa")
    unit = unit.lower() if isinstance(unit, str) else ""
    if unit not in ("kpa", "bar", "psi"):
        raise SmartcarProtocolError(f"unknown unit {body.get('unit')!r} for tire pressure")
    pressures: dict[str, float | None] = {}
    for side, cell in _grid(body, "tires"):
        value = _num(cell, "tirePressure")
        if value is not None:
            if unit == "psi":
                value *= KPA_PER_PSI
            elif unit == "bar" and value < _BAR_CEILING:
                value *= 100.0
        pressures[side] = value
    return TirePressure(*(pressures.get(side) for side in _SIDES.values()))


def _oil(s: Signals) -> EngineOil | None:
    body = _ok(s, "internalcombustionengine-oillife")
    if body is None:
        return None
    life = _percent(body)
    if life is None:
        raise SmartcarProtocolError("oil life without a value")
    return EngineOil(life)


def _vin(s: Signals) -> Vin | None:
    body = _ok(s, "vehicleidentification-vin")
    value = body.get("value") if body is not None else None
    if body is not None and not isinstance(value, str):
        raise SmartcarProtocolError("VIN without a value")
    return Vin(value) if isinstance(value, str) else None


#: Reading kind → its parser and the signals it reads, the one whose failure explains a
#: missing reading first.
PARSERS: dict[DataKind, tuple[Callable[[Signals], object | None], tuple[str, ...]]] = {
    DataKind.LOCATION: (_location, ("location-preciselocation",)),
    DataKind.ODOMETER: (_odometer, ("odometer-traveleddistance",)),
    DataKind.FUEL: (
        _fuel,
        (
            "internalcombustionengine-fuellevel",
            "internalcombustionengine-amountremaining",
            "internalcombustionengine-range",
        ),
    ),
    DataKind.BATTERY: (_battery, ("tractionbattery-stateofcharge", "tractionbattery-range")),
    DataKind.CHARGE: (
        _charge,
        ("charge-ischargingcableconnected", "charge-detailedchargingstatus", "charge-ischarging"),
    ),
    DataKind.LOCK_STATUS: (
        _lock_status,
        (
            "closure-islocked",
            "closure-doors",
            "closure-windows",
            "closure-fronttrunk",
            "closure-reartrunk",
            "closure-sunroof",
        ),
    ),
    DataKind.TIRE_PRESSURE: (_tires, ("wheel-tires",)),
    DataKind.ENGINE_OIL: (_oil, ("internalcombustionengine-oillife",)),
    DataKind.VIN: (_vin, ("vehicleidentification-vin",)),
}
KNOWN_CODES = frozenset(code for _, codes in PARSERS.values() for code in codes)


def not_reported(kind: DataKind) -> CompatibilityError:
    return CompatibilityError(
        status=501,
        type="COMPATIBILITY",
        code="VEHICLE_NOT_CAPABLE",
        description=f"no {kind.name.lower()} signal in the answer",
        request_id=None,
        resolution=Resolution(),
    )


def reading_for(
    kind: DataKind, signals: Signals, request_id: str | None = None
) -> Reading[Any] | SmartcarError:
    """The typed reading of ``kind``, or the error that explains why there is none."""
    parser, codes = PARSERS[kind]
    main = codes[0]
    try:
        value = parser(signals)
    except SmartcarProtocolError as exc:
        logger.warning("Smartcar V3 %s signal refused: %s", kind.name.lower(), exc)
        return exc
    if value is None:
        failed = signals.get(main)
        return failed.error if failed is not None and failed.error else not_reported(kind)
    source = signals.get(main)
    meta = ResponseMeta(
        request_id=request_id,
        data_age=source.oem_updated_at if source else None,
        fetched_at=source.retrieved_at if source else None,
    )
    return Reading(value, meta)


def batch_from_signals(
    signals: Signals, kinds: Iterable[DataKind], request_id: str | None = None
) -> BatchResult:
    """Each kind's reading or the error that explains why there is none, as a v2.0
    batch gives them (a poll's ``GET /signals`` and a webhook's signals alike)."""
    items: dict[DataKind, BatchItem] = {}
    for kind in kinds:
        if kind not in PARSERS:
            continue
        result = reading_for(kind, signals, request_id)
        if isinstance(result, Reading):
            items[kind] = BatchItem(kind, result, None)
        else:
            items[kind] = BatchItem(kind, None, result)
    return BatchResult(request_id, items)


def snapshot_from_signals(
    vehicle_id: str,
    signals: Signals,
    kinds: Iterable[DataKind] = tuple(SNAPSHOT_FIELDS),
) -> VehicleSnapshot:
    """A :class:`VehicleSnapshot` as a v2.0 batch would give, from one set of signals.

    Webhook payloads carry only the configured data signals: pass the kinds they carry
    (:func:`present_kinds`), so a push never claims a car lost a capability.
    """
    unknown = [code for code in signals if code not in KNOWN_CODES]
    if unknown:
        logger.debug("Smartcar V3: ignored signal codes %s", ", ".join(sorted(unknown)[:10]))
    snapshot_kinds = [k for k in kinds if k in SNAPSHOT_FIELDS]
    return snapshot_from_batch(vehicle_id, batch_from_signals(signals, snapshot_kinds))


def present_kinds(signals: Signals) -> tuple[DataKind, ...]:
    """Snapshot kinds at least one of whose signals is in ``signals`` (what a push carried)."""
    return tuple(k for k in SNAPSHOT_FIELDS if any(c in signals for c in PARSERS[k][1]))
