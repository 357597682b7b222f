"""Vehicle data over the Vehicles API v2.0: paths, body parsing, imperial-to-metric."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.integrations.smartcar.errors import SmartcarError, SmartcarProtocolError
from app.integrations.smartcar.models import (
    Attributes,
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
    Vin,
)
from app.integrations.smartcar.reader import Transport
from app.integrations.smartcar.units import KM_PER_MILE, KPA_PER_PSI, L_PER_GALLON
from app.integrations.smartcar.wire import (
    api_error,
    boolean,
    fraction,
    meta_from,
    number,
    obj,
    req_fraction,
    req_number,
    req_text,
)

API_VERSION = "2.0"


class _Units:
    """Converts to metric when the answer says it is imperial (we always ask for metric)."""

    def __init__(self, meta: ResponseMeta) -> None:
        self.imperial = (meta.unit_system or "metric").lower() == "imperial"

    def km(self, v: float | None) -> float | None:
        return None if v is None else (v * KM_PER_MILE if self.imperial else v)

    def liters(self, v: float | None) -> float | None:
        return None if v is None else (v * L_PER_GALLON if self.imperial else v)

    def kpa(self, v: float | None) -> float | None:
        return None if v is None else (v * KPA_PER_PSI if self.imperial else v)


def _attributes(b: Mapping[str, Any], u: _Units) -> Attributes:
    year = b.get("year")
    if isinstance(year, str) and year.isdigit():  # docs example shows a string year
        year = int(year)
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 < year < 2100:
        raise SmartcarProtocolError("field 'year': expected a model year")
    return Attributes(req_text(b, "id"), req_text(b, "make"), req_text(b, "model"), year)


def _location(b: Mapping[str, Any], u: _Units) -> Location:
    lat, lon = req_number(b, "latitude"), req_number(b, "longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise SmartcarProtocolError(f"coordinates out of range: {lat}, {lon}")
    return Location(lat, lon)


def _odometer(b: Mapping[str, Any], u: _Units) -> Odometer:
    distance = u.km(req_number(b, "distance"))
    if distance is None or distance < 0:
        raise SmartcarProtocolError("field 'distance': negative odometer")
    return Odometer(distance)


def _fuel(b: Mapping[str, Any], u: _Units) -> Fuel:
    return Fuel(
        u.liters(number(b, "amountRemaining", nullable=True)),
        fraction(b, "percentRemaining", nullable=True),
        u.km(number(b, "range", nullable=True)),
    )


def _battery(b: Mapping[str, Any], u: _Units) -> Battery:
    return Battery(req_fraction(b, "percentRemaining"), u.km(number(b, "range", nullable=True)))


def _charge(b: Mapping[str, Any], u: _Units) -> Charge:
    return Charge(boolean(b, "isPluggedIn"), req_text(b, "state"))


def _openings(b: Mapping[str, Any], key: str) -> tuple[Opening, ...]:
    items = b.get(key)
    if not isinstance(items, list):
        raise SmartcarProtocolError(f"field {key!r}: expected a list")
    return tuple(
        Opening(req_text(obj(i, key), "type"), req_text(obj(i, key), "status")) for i in items
    )


def _lock_status(b: Mapping[str, Any], u: _Units) -> LockStatus:
    return LockStatus(
        boolean(b, "isLocked"),
        _openings(b, "doors"),
        _openings(b, "windows"),
        _openings(b, "sunroof"),
        _openings(b, "storage"),
        _openings(b, "chargingPort"),
    )


def _tires(b: Mapping[str, Any], u: _Units) -> TirePressure:
    keys = ("frontLeft", "frontRight", "backLeft", "backRight")
    return TirePressure(*(u.kpa(number(b, k, nullable=True)) for k in keys))


def _oil(b: Mapping[str, Any], u: _Units) -> EngineOil:
    return EngineOil(req_fraction(b, "lifeRemaining"))


_PARSERS: dict[DataKind, Callable[[Mapping[str, Any], _Units], object]] = {
    DataKind.ATTRIBUTES: _attributes,
    DataKind.VIN: lambda b, u: Vin(req_text(b, "vin")),
    DataKind.LOCATION: _location,
    DataKind.ODOMETER: _odometer,
    DataKind.FUEL: _fuel,
    DataKind.BATTERY: _battery,
    DataKind.CHARGE: _charge,
    DataKind.LOCK_STATUS: _lock_status,
    DataKind.TIRE_PRESSURE: _tires,
    DataKind.ENGINE_OIL: _oil,
}
_BY_PATH = {kind.value: kind for kind in DataKind}


def parse(kind: DataKind, body: Any, meta: ResponseMeta) -> Reading[Any]:
    """Typed reading for one v2 body; raises SmartcarProtocolError naming the bad field."""
    return Reading(_PARSERS[kind](obj(body, kind.value), _Units(meta)), meta)


def vehicle_path(vehicle_id: str, sub: str = "") -> str:
    return f"/v{API_VERSION}/vehicles/{vehicle_id}{sub}"


class V2Reader:
    """:class:`~app.integrations.smartcar.reader.VehicleDataReader` over v2.0 endpoints."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def read(self, vehicle_id: str, credential: str, kind: DataKind) -> Reading[Any]:
        sub = "" if kind is DataKind.ATTRIBUTES else kind.value
        raw = await self._transport.request(
            "GET", vehicle_path(vehicle_id, sub), access_token=credential
        )
        return parse(kind, raw.body, meta_from(raw.headers))

    async def read_many(
        self, vehicle_id: str, credential: str, kinds: Sequence[DataKind]
    ) -> BatchResult:
        """One ``POST /batch``; every item becomes a reading or its own error."""
        raw = await self._transport.request(
            "POST",
            vehicle_path(vehicle_id, "/batch"),
            access_token=credential,
            json={"requests": [{"path": kind.value} for kind in kinds]},
        )
        top = meta_from(raw.headers)
        responses = obj(raw.body, "batch").get("responses")
        if not isinstance(responses, list):
            raise SmartcarProtocolError(
                "batch: 'responses' is not a list", request_id=top.request_id
            )
        items: dict[DataKind, BatchItem] = {}
        for entry in responses:
            item = _batch_item(entry, top.request_id)
            if item is not None:
                items[item.kind] = item
        for kind in kinds:
            if kind not in items:
                error = SmartcarProtocolError(f"batch: no answer for {kind.value}")
                items[kind] = BatchItem(kind, None, error)
        return BatchResult(top.request_id, items)


def _batch_item(entry: Any, request_id: str | None) -> BatchItem | None:
    """Parse one sub-response; None for paths we did not ask about (ignored)."""
    if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
        return None
    kind = _BY_PATH.get("/" + entry["path"].strip("/"))
    if kind is None:
        return None
    raw_headers = entry.get("headers")
    headers: Mapping[str, str] = raw_headers if isinstance(raw_headers, Mapping) else {}
    meta = meta_from(headers, request_id)
    code = entry.get("code")
    error: SmartcarError
    try:
        if code == 200:
            return BatchItem(kind, parse(kind, entry.get("body"), meta), None)
        if not isinstance(code, int):
            raise SmartcarProtocolError(f"batch item {kind.value}: no status code")
        error = api_error(code, entry.get("body"), {**headers, "sc-request-id": request_id or ""})
    except SmartcarProtocolError as exc:
        error = exc
    return BatchItem(kind, None, error)
