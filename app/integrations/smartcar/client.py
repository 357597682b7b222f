"""The async Smartcar client the app uses (demo: against the simulator; live: the cloud).

One ``httpx.AsyncClient`` lives as long as the client (connection reuse matters: a poll of a
thousand cars is a thousand requests). The client speaks the API version the application
is set up for (``api_version``): vehicle data goes through a
:class:`~app.integrations.smartcar.reader.VehicleDataReader` (v2.0 endpoints or V3 signals),
commands and disconnect through the matching endpoints, so callers never branch on the
version except where the flow itself differs (Connect hands back a code in v2.0 and a
user id in V3). Per-car calls take a ``credential``: the connection's access token in
v2.0, its Smartcar user id in V3 (the application token is the client's own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx

from app.integrations.smartcar.app_token import AppTokenSource
from app.integrations.smartcar.auth import SmartcarAuth
from app.integrations.smartcar.config import ApiVersion, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.errors import SmartcarError, SmartcarProtocolError
from app.integrations.smartcar.models import (
    ActionResult,
    Attributes,
    BatchResult,
    Battery,
    Capability,
    Charge,
    Compatibility,
    DataKind,
    EngineOil,
    Fuel,
    Location,
    LockStatus,
    Odometer,
    Permissions,
    Reading,
    ResponseMeta,
    TirePressure,
    User,
    VehiclePage,
    VehicleSnapshot,
    Vin,
    snapshot_from_batch,
)
from app.integrations.smartcar.rate_gate import AppRateGate
from app.integrations.smartcar.reader import VehicleDataReader
from app.integrations.smartcar.transport import DEFAULT_TIMEOUT, HttpTransport, new_http_client
from app.integrations.smartcar.v2_reader import API_VERSION, V2Reader, vehicle_path
from app.integrations.smartcar.v3_client import V3Endpoints
from app.integrations.smartcar.v3_reader import V3Reader
from app.integrations.smartcar.v3_transport import V3Transport
from app.integrations.smartcar.wire import boolean, meta_from, obj, req_text, text_or_none

#: What one telemetry poll asks for. Both fuel and battery: the car answers the one it has.
SNAPSHOT_KINDS = (
    DataKind.LOCATION,
    DataKind.FUEL,
    DataKind.BATTERY,
    DataKind.ODOMETER,
    DataKind.LOCK_STATUS,
    DataKind.TIRE_PRESSURE,
    DataKind.ENGINE_OIL,
)
#: Powertrains that charge from a plug (``app.models.enums.Powertrain`` values).
PLUG_IN_POWERTRAINS = frozenset({"bev", "phev"})


def snapshot_kinds(powertrain: str | None, granted_scopes: Iterable[str]) -> tuple[DataKind, ...]:
    """What one poll of this car asks for: the snapshot, plus ``/charge`` for a plug-in car
    whose connection granted ``read_charge``. Still one batch request; a combustion car or
    a refused permission would only earn a per-item error on every poll."""
    if powertrain in PLUG_IN_POWERTRAINS and "read_charge" in granted_scopes:
        return (*SNAPSHOT_KINDS, DataKind.CHARGE)
    return SNAPSHOT_KINDS


class SmartcarClient:
    """All Smartcar endpoints the product needs; use as ``async with`` or call ``aclose``."""

    def __init__(
        self,
        origins: SmartcarOrigins,
        credentials: SmartcarCredentials,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 32,
        http: httpx.AsyncClient | None = None,
        api_version: ApiVersion = "2.0",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._owns_http = http is None
        self._http = http or new_http_client(timeout, max_connections)
        self.api_version: ApiVersion = api_version
        #: The application-wide rate limit; ``clock`` (epoch seconds) times its pause.
        self.rate_gate = AppRateGate(clock)
        self._transport = HttpTransport(origins.api, self._http, self.rate_gate)
        self.auth = SmartcarAuth(origins, credentials, self._transport)
        #: The V3 application token (also used by the Management API); None in v2.0.
        self.app_tokens: AppTokenSource | None = None
        self._v3: V3Endpoints | None = None
        self.reader: VehicleDataReader
        if api_version == "3":
            self.app_tokens = AppTokenSource(origins.iam_token_url, credentials, self._transport)
            v3 = V3Transport(
                self._transport,
                self.app_tokens,
                vehicle_api=origins.vehicle_api,
                management_api=origins.management_api,
            )
            self.reader = V3Reader(v3)
            self._v3 = V3Endpoints(v3)
        else:
            self.reader = V2Reader(self._transport)

    @property
    def v3(self) -> V3Endpoints:
        """Connections, commands and webhook subscriptions of API V3."""
        if self._v3 is None:
            raise SmartcarProtocolError("this application is set up for API v2.0, not V3")
        return self._v3

    async def __aenter__(self) -> SmartcarClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- user and vehicle list -------------------------------------------------------------

    async def get_user(self, access_token: str) -> Reading[User]:
        raw = await self._transport.request(
            "GET", f"/v{API_VERSION}/user", access_token=access_token
        )
        return Reading(User(req_text(obj(raw.body, "user"), "id")), meta_from(raw.headers))

    async def list_vehicles(
        self, access_token: str, *, limit: int = 10, offset: int = 0
    ) -> Reading[VehiclePage]:
        raw = await self._transport.request(
            "GET",
            f"/v{API_VERSION}/vehicles",
            access_token=access_token,
            params={"limit": limit, "offset": offset},
        )
        body = obj(raw.body, "vehicles")
        ids = _string_list(body.get("vehicles"), "vehicles")
        count, page_offset = _paging(body)
        return Reading(VehiclePage(ids, count, page_offset), meta_from(raw.headers))

    async def all_vehicle_ids(self, access_token: str, page_size: int = 50) -> list[str]:
        """Walk every page; stops on an empty page so a wrong ``count`` cannot loop forever."""
        ids: list[str] = []
        while True:
            page = (await self.list_vehicles(access_token, limit=page_size, offset=len(ids))).value
            ids.extend(page.vehicle_ids)
            if not page.vehicle_ids or len(ids) >= page.count:
                return ids

    # -- vehicle data (through the reader) -------------------------------------------------

    async def attributes(self, vehicle_id: str, token: str) -> Reading[Attributes]:
        return await self.reader.read(vehicle_id, token, DataKind.ATTRIBUTES)

    async def vin(self, vehicle_id: str, token: str) -> Reading[Vin]:
        return await self.reader.read(vehicle_id, token, DataKind.VIN)

    async def location(self, vehicle_id: str, token: str) -> Reading[Location]:
        return await self.reader.read(vehicle_id, token, DataKind.LOCATION)

    async def odometer(self, vehicle_id: str, token: str) -> Reading[Odometer]:
        return await self.reader.read(vehicle_id, token, DataKind.ODOMETER)

    async def fuel(self, vehicle_id: str, token: str) -> Reading[Fuel]:
        return await self.reader.read(vehicle_id, token, DataKind.FUEL)

    async def battery(self, vehicle_id: str, token: str) -> Reading[Battery]:
        return await self.reader.read(vehicle_id, token, DataKind.BATTERY)

    async def charge(self, vehicle_id: str, token: str) -> Reading[Charge]:
        return await self.reader.read(vehicle_id, token, DataKind.CHARGE)

    async def lock_status(self, vehicle_id: str, token: str) -> Reading[LockStatus]:
        return await self.reader.read(vehicle_id, token, DataKind.LOCK_STATUS)

    async def tire_pressure(self, vehicle_id: str, token: str) -> Reading[TirePressure]:
        return await self.reader.read(vehicle_id, token, DataKind.TIRE_PRESSURE)

    async def engine_oil(self, vehicle_id: str, token: str) -> Reading[EngineOil]:
        return await self.reader.read(vehicle_id, token, DataKind.ENGINE_OIL)

    async def batch(self, vehicle_id: str, token: str, kinds: Sequence[DataKind]) -> BatchResult:
        return await self.reader.read_many(vehicle_id, token, kinds)

    async def read_snapshot(
        self, vehicle_id: str, access_token: str, kinds: Sequence[DataKind] = SNAPSHOT_KINDS
    ) -> VehicleSnapshot:
        """One batch request for the telemetry poll; per-item failures land in ``errors``."""
        result = await self.reader.read_many(vehicle_id, access_token, kinds)
        return snapshot_from_batch(vehicle_id, result)

    async def read_snapshots(
        self, pairs: Iterable[tuple[str, str]], *, concurrency: int = 32
    ) -> list[VehicleSnapshot | SmartcarError]:
        """Snapshots for many ``(vehicle_id, access_token)`` pairs, at most ``concurrency``
        requests in flight; a failing car yields its error instead of aborting the poll."""
        gate = asyncio.Semaphore(concurrency)

        async def one(vehicle_id: str, token: str) -> VehicleSnapshot | SmartcarError:
            async with gate:
                try:
                    return await self.read_snapshot(vehicle_id, token)
                except SmartcarError as exc:
                    return exc

        return list(await asyncio.gather(*(one(v, t) for v, t in pairs)))

    # -- permissions, commands, disconnect -------------------------------------------------

    async def permissions(
        self, vehicle_id: str, token: str, *, limit: int = 25, offset: int = 0
    ) -> Reading[Permissions]:
        if self._v3 is not None:
            found = await self._v3.connections(user_id=token, vehicle_id=vehicle_id)
            scopes = next((c.permissions for c in found if c.vehicle_id == vehicle_id), ())
            return Reading(Permissions(scopes, len(scopes), 0), ResponseMeta())
        raw = await self._transport.request(
            "GET",
            vehicle_path(vehicle_id, "/permissions"),
            access_token=token,
            params={"limit": limit, "offset": offset},
        )
        body = obj(raw.body, "permissions")
        count, page_offset = _paging(body)
        scopes = _string_list(body.get("permissions"), "permissions")
        return Reading(Permissions(scopes, count, page_offset), meta_from(raw.headers))

    async def lock(self, vehicle_id: str, token: str) -> Reading[ActionResult]:
        if self._v3 is not None:
            return await self._command(vehicle_id, token, "lock")
        return await self._action("POST", vehicle_id, token, "/security", {"action": "LOCK"})

    async def unlock(self, vehicle_id: str, token: str) -> Reading[ActionResult]:
        if self._v3 is not None:
            return await self._command(vehicle_id, token, "unlock")
        return await self._action("POST", vehicle_id, token, "/security", {"action": "UNLOCK"})

    async def disconnect(self, vehicle_id: str, token: str) -> Reading[ActionResult]:
        """Revoke this app's access to the car: v2.0 ``DELETE /application``; V3 removes
        the car's connection (never the whole user, who may have granted other cars)."""
        if self._v3 is not None:
            found = await self._v3.connections(user_id=token, vehicle_id=vehicle_id)
            for connection in found:
                if connection.vehicle_id == vehicle_id:
                    await self._v3.remove_connection(connection.id)
            return Reading(ActionResult("success", None), ResponseMeta())
        return await self._action("DELETE", vehicle_id, token, "/application", None)

    async def _command(self, vehicle_id: str, user_id: str, name: str) -> Reading[ActionResult]:
        execution = await self.v3.command(vehicle_id, user_id, name)
        result = ActionResult(execution.status.lower(), execution.command_type)
        return Reading(result, ResponseMeta())

    async def _action(
        self, method: str, vehicle_id: str, token: str, sub: str, payload: Any
    ) -> Reading[ActionResult]:
        raw = await self._transport.request(
            method, vehicle_path(vehicle_id, sub), access_token=token, json=payload
        )
        body = obj(raw.body, sub)
        result = ActionResult(req_text(body, "status"), text_or_none(body, "message"))
        return Reading(result, meta_from(raw.headers))

    # -- compatibility ---------------------------------------------------------------------

    async def compatibility(
        self, vin: str, scopes: Sequence[str], country: str = "US"
    ) -> Reading[Compatibility]:
        """Whether Smartcar can serve ``vin`` with ``scopes`` (client-credentials auth)."""
        token = await self.auth.app_token()
        raw = await self._transport.request(
            "GET",
            f"/v{API_VERSION}/compatibility",
            access_token=token,
            params={"vin": vin, "scope": " ".join(scopes), "country": country},
        )
        body = obj(raw.body, "compatibility")
        items = body.get("capabilities")
        if not isinstance(items, list):
            raise SmartcarProtocolError("compatibility: 'capabilities' is not a list")
        capabilities = tuple(
            Capability(
                boolean(c, "capable"),
                req_text(c, "endpoint"),
                req_text(c, "permission"),
                text_or_none(c, "reason"),
            )
            for c in (obj(i, "capability") for i in items)
        )
        return Reading(
            Compatibility(boolean(body, "compatible"), text_or_none(body, "reason"), capabilities),
            meta_from(raw.headers),
        )


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SmartcarProtocolError(f"{what}: expected a list of strings")
    return tuple(value)


def _paging(body: Any) -> tuple[int, int]:
    paging = obj(body.get("paging"), "paging")
    count, offset = paging.get("count"), paging.get("offset")
    for value in (count, offset):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SmartcarProtocolError("paging: count/offset must be non-negative integers")
    assert isinstance(count, int) and isinstance(offset, int)  # checked just above
    return count, offset
