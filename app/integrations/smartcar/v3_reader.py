"""Vehicle data over API V3: ``GET /v3/vehicles/{id}`` and ``/signals``.

Implements :class:`~app.integrations.smartcar.reader.VehicleDataReader`, so the client's
read methods, ``read_snapshot`` and the telemetry poller work unchanged; the credential
they pass is the connection's Smartcar user id (sent as ``sc-user-id``), the application
token is the transport's own. One poll is one ``GET /signals`` whatever it asks for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from app.integrations.smartcar.errors import SmartcarProtocolError
from app.integrations.smartcar.models import (
    Attributes,
    BatchResult,
    DataKind,
    Reading,
    ResponseMeta,
)
from app.integrations.smartcar.v3_signals import Signal, batch_from_signals, parse_signals
from app.integrations.smartcar.v3_transport import V3Transport
from app.integrations.smartcar.wire import obj, req_text

#: Signal pages followed at most (the real service answers all signals on one page).
MAX_SIGNAL_PAGES = 10


def unwrap(body: Any, what: str) -> Mapping[str, Any]:
    """A single JSON:API resource, bare or wrapped in ``data`` (sources disagree)."""
    outer = obj(body, what)
    inner = outer.get("data")
    return obj(inner, what) if isinstance(inner, Mapping) else outer


def vehicle_attributes(resource: Mapping[str, Any]) -> Attributes:
    attributes = obj(resource.get("attributes"), "vehicle attributes")
    year = attributes.get("year")
    if isinstance(year, str) and year.isdigit():
        year = int(year)
    if not isinstance(year, int) or isinstance(year, bool) or not 1900 < year < 2100:
        raise SmartcarProtocolError("field 'year': expected a model year")
    return Attributes(
        req_text(resource, "id"), req_text(attributes, "make"), req_text(attributes, "model"), year
    )


class V3Reader:
    """:class:`~app.integrations.smartcar.reader.VehicleDataReader` over V3 signals."""

    def __init__(self, transport: V3Transport) -> None:
        self._transport = transport

    async def read(self, vehicle_id: str, credential: str, kind: DataKind) -> Reading[Any]:
        if kind is DataKind.ATTRIBUTES:
            raw = await self._transport.request(
                "GET", f"/v3/vehicles/{vehicle_id}", user_id=credential
            )
            meta = ResponseMeta(request_id=raw.headers.get("sc-request-id"))
            return Reading(vehicle_attributes(unwrap(raw.body, "vehicle")), meta)
        item = (await self.read_many(vehicle_id, credential, (kind,))).items[kind]
        if item.error is not None:
            raise item.error
        assert item.reading is not None
        return item.reading

    async def read_many(
        self, vehicle_id: str, credential: str, kinds: Sequence[DataKind]
    ) -> BatchResult:
        signals, request_id = await self.signals(vehicle_id, credential)
        return batch_from_signals(signals, kinds, request_id)

    async def signals(self, vehicle_id: str, user_id: str) -> tuple[dict[str, Signal], str | None]:
        """Every signal of the car (following ``links.next``), and the first request id."""
        signals: dict[str, Signal] = {}
        params: dict[str, str | int] | None = None
        request_id = None
        for _ in range(MAX_SIGNAL_PAGES):
            raw = await self._transport.request(
                "GET", f"/v3/vehicles/{vehicle_id}/signals", user_id=user_id, params=params
            )
            request_id = request_id or raw.headers.get("sc-request-id")
            body = obj(raw.body, "signals")
            signals.update(parse_signals(body.get("data")))
            links = body.get("links")
            following = links.get("next") if isinstance(links, Mapping) else None
            if not isinstance(following, str) or not following:
                break
            params = dict(parse_qsl(urlsplit(following).query))
        return signals, request_id
