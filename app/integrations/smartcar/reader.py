"""The seam between callers and the wire format of vehicle data.

Callers (the client's read methods, ``read_snapshot``, the telemetry poller) only see
:class:`VehicleDataReader`. Today :class:`~app.integrations.smartcar.v2_reader.V2Reader`
implements it over ``/v2.0`` endpoints and ``/batch``; when Smartcar retires v2.0 reads, a v3
signals reader implements the same two methods and nothing above it changes.
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

    async def read(self, vehicle_id: str, access_token: str, kind: DataKind) -> Reading[Any]: ...

    async def read_many(
        self, vehicle_id: str, access_token: str, kinds: Sequence[DataKind]
    ) -> BatchResult: ...
