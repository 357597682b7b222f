"""The seam between callers and the wire format of vehicle data.

Callers (the client's read methods, ``read_snapshot``, the telemetry poller) only see
:class:`VehicleDataReader`. :class:`~app.integrations.smartcar.v2_reader.V2Reader` implements
it over ``/v2.0`` endpoints and ``/batch``, :class:`~app.integrations.smartcar.v3_reader.V3Reader`
over V3 signals. The ``credential`` names whose car it is: the connection's access token in
v2.0, its Smartcar user id in V3 (where the application token belongs to the transport).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from app.integrations.smartcar.models import BatchResult, DataKind, Reading
from app.integrations.smartcar.wire import RawResponse


class Transport(Protocol):
    """Sends one authenticated API request; raises typed errors for non-2xx answers."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        access_token: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> RawResponse: ...


class VehicleDataReader(Protocol):
    """Reads typed vehicle data, one kind at a time or several in one round trip."""

    async def read(self, vehicle_id: str, credential: str, kind: DataKind) -> Reading[Any]: ...

    async def read_many(
        self, vehicle_id: str, credential: str, kinds: Sequence[DataKind]
    ) -> BatchResult: ...
