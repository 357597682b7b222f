"""The Vehicle API V3 surface: connections, users, vehicle attributes, signals, commands.

A vehicle request goes through the same gates as a v2 one, in the same order, so a fault or a
limit set up for one surface shows on the other: authentication and connection
(:func:`.v3_auth.vehicle_access`), the per-vehicle throttle (429 ``RATE_LIMIT``/``VEHICLE`` +
``Retry-After``), the modelled cloud latency (``api_latency_s`` plus any fault delay), forced
faults (magic login of the connection's Connect session, ``/_sim/faults``; not for the static
attributes), then the route's own checks. Every failure is the V3 envelope.

Signals never fail the request for one item: a signal the car cannot give or the connection
may not read is an ERROR entry in a 200 answer (see :mod:`.v3_signals`).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from app.integrations.smartcar.simulator.api import FAULT_RETRY_AFTER_S, command_problem
from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorState
from app.integrations.smartcar.simulator.responses import (
    Reject,
    json_response,
    read_json_v3,
    v3_error,
)
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.simulator.v3_auth import (
    USER_HEADER,
    VehicleAccess,
    require_app_token,
    vehicle_access,
)
from app.integrations.smartcar.simulator.v3_model import Connection, iso_z
from app.integrations.smartcar.simulator.v3_paging import base_url, paged
from app.integrations.smartcar.simulator.v3_signals import (
    SIGNALS,
    evaluate,
    oem_updated_at,
    rest_signal,
    vehicle_attributes,
)

CONNECTIONS_PAGE_SIZE = 10
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: ``commands/{group}/{action}`` -> (v2 command family, v2 action, scope, commandType)
COMMANDS: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("security", "lock"): ("security", "LOCK", "control_security", "security-lock"),
    ("security", "unlock"): ("security", "UNLOCK", "control_security", "security-unlock"),
    ("charge", "start"): ("charge", "START", "control_charge", "charge-start"),
    ("charge", "stop"): ("charge", "STOP", "control_charge", "charge-stop"),
    ("charge", "set-limit"): ("charge", "SET_LIMIT", "control_charge", "charge-set-limit"),
}


def vehicle_resource(base: str, vehicle: SimVehicle) -> dict[str, Any]:
    """``GET /v3/vehicles/{id}``'s ``data`` and the signals' ``included.vehicle``."""
    return {
        "id": vehicle.vehicle_id,
        "type": "vehicle",
        "attributes": vehicle_attributes(vehicle),
        "links": {"self": f"{base}/v3/vehicles/{vehicle.vehicle_id}"},
    }


def connection_resource(base: str, conn: Connection, vehicle: SimVehicle) -> dict[str, Any]:
    """One ``GET /v3/connections`` entry, shaped like the real June-2026 capture."""
    return {
        "id": conn.id,
        "type": "connection",
        "attributes": {
            "permissions": sorted(conn.scopes),
            "vehicle": vehicle_attributes(vehicle),
            "user": {"id": conn.user_id},
        },
        "relationships": {
            "vehicle": {
                "data": {"id": conn.vehicle_id, "type": "vehicle"},
                "links": {"related": f"{base}/v3/vehicles/{conn.vehicle_id}"},
            },
            "user": {"data": {"id": conn.user_id, "type": "user"}},
        },
        "meta": {"createdAt": iso_z(conn.created_at), "updatedAt": iso_z(conn.updated_at)},
        "links": {"self": f"{base}/v3/connections/{conn.id}"},
    }


def _forced(sim: SimulatorState, conn: Connection) -> tuple[str, str | None] | None:
    if conn.fault is not None:
        return conn.fault
    return sim.faults.error if sim.faults.should_fail() else None


def _fail(request: web.Request, type_: str, code: str | None) -> Reject:
    headers = {"Retry-After": str(FAULT_RETRY_AFTER_S)} if type_ == "RATE_LIMIT" else None
    return Reject(v3_error(request, type_, code, headers=headers))


async def _reach(request: web.Request, *, static: bool = False) -> VehicleAccess:
    """Authenticate, throttle, wait out the latency and apply forced faults (see module)."""
    sim = request.app[SIM_KEY]
    access = vehicle_access(request, sim, request.match_info["vehicle_id"])
    wait = sim.limiter.acquire(access.vehicle.vehicle_id)
    if wait:
        raise Reject(v3_error(request, "RATE_LIMIT", "VEHICLE", headers={"Retry-After": str(wait)}))
    fault_delay = sim.config.slow_delay_s if access.connection.slow else sim.faults.delay_s
    delay = sim.config.api_latency_s + fault_delay
    if delay > 0:
        await sim.config.sleep(delay)
    forced = None if static else _forced(sim, access.connection)
    if forced is not None:
        raise _fail(request, *forced)
    return access


def _guarded(handler: Handler) -> Handler:
    """Turn a raised :class:`Reject` into its ready response."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Reject as rejected:
            return rejected.response

    run.__doc__ = handler.__doc__
    return run


async def get_vehicle(request: web.Request) -> web.Response:
    """``GET /v3/vehicles/{id}``: wrapped attributes (Smartcar's records: no faults)."""
    access = await _reach(request, static=True)
    return json_response(request, {"data": vehicle_resource(base_url(request), access.vehicle)})


def _signal_parts(
    request: web.Request, access: VehicleAccess, codes: list[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sim = request.app[SIM_KEY]
    now = sim.clock()
    vehicle = access.vehicle
    vehicle.advance(now)
    base = base_url(request)
    oem_at = oem_updated_at(vehicle, now)
    signals = [
        rest_signal(
            evaluate(vehicle, code, access.scopes),
            f"{base}/v3/vehicles/{vehicle.vehicle_id}/signals/{code}",
            now,
            oem_at,
        )
        for code in codes
    ]
    return signals, {"vehicle": vehicle_resource(base, vehicle)}


async def list_signals(request: web.Request) -> web.Response:
    """``GET /v3/vehicles/{id}/signals``: every known signal, failures as ERROR entries.
    ``meta`` carries both ``page`` (docs, SDKs) and ``pageNumber`` (real service)."""
    access = await _reach(request)
    signals, included = _signal_parts(request, access, list(SIGNALS))
    n = len(signals)
    body = {
        "data": signals,
        "meta": {"page": 1, "pageNumber": 1, "pageSize": n, "totalCount": n},
        "links": {"self": str(request.url)},
        "included": included,
    }
    return json_response(request, body)


async def get_signal(request: web.Request) -> web.Response:
    """``GET /v3/vehicles/{id}/signals/{code}``: wrapped, like the real capture."""
    code = request.match_info["code"]
    access = await _reach(request)
    if code not in SIGNALS:
        return v3_error(request, "RESOURCE_NOT_FOUND", "PATH", detail=f"Unknown signal {code}.")
    signals, included = _signal_parts(request, access, [code])
    return json_response(request, {"data": signals[0], "included": included})


async def _set_limit_percent(request: web.Request) -> int:
    payload = await read_json_v3(request)
    data = payload.get("data") if isinstance(payload, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    percent = attributes.get("percent") if isinstance(attributes, dict) else None
    if isinstance(percent, bool) or not isinstance(percent, int) or not 50 <= percent <= 100:
        raise Reject(
            v3_error(
                request,
                "VALIDATION",
                "PARAMETER",
                detail="data.attributes.percent must be an integer 50-100.",
            )
        )
    return percent


async def command(request: web.Request) -> web.Response:
    """``POST /v3/vehicles/{id}/commands/{group}/{action}``: v2's rules, a
    ``command-execution`` answer on success, the envelope (403/409/501) on refusal."""
    sim = request.app[SIM_KEY]
    entry = COMMANDS.get((request.match_info["group"], request.match_info["action"]))
    if entry is None:
        return v3_error(request, "RESOURCE_NOT_FOUND", "PATH", detail="Unknown command.")
    what, action, scope, command_type = entry
    started = sim.clock()
    access = vehicle_access(request, sim, request.match_info["vehicle_id"])
    if action == "SET_LIMIT":
        percent: int | None = await _set_limit_percent(request)
    else:
        percent = None
        await read_json_v3(request, optional=True)
    if scope not in access.scopes:
        return v3_error(request, "PERMISSION", detail=f"The connection lacks {scope}.")
    access = await _reach(request)
    vehicle = access.vehicle
    vehicle.advance(sim.clock())
    if action == "SET_LIMIT":
        problem = _set_limit_problem(vehicle)
    else:
        problem = command_problem(vehicle, what, action)
    if problem is not None:
        return v3_error(request, *problem)
    if what == "security":
        vehicle.locked = action == "LOCK"
    elif percent is not None:
        vehicle.charge_limit = percent / 100
    else:
        vehicle.set_activity("charging" if action == "START" else "parked", sim.clock())
        vehicle.plugged_in = True
    completed = sim.clock()
    attributes: dict[str, Any] = {
        "commandType": command_type,
        "status": {"value": "SUCCESS"},
        "executionMode": "sync",
    }
    if percent is not None:
        attributes["parameters"] = {"percent": percent}
    body = {
        "data": {
            "id": f"exec_{secrets.token_hex(8)}",
            "type": "command-execution",
            "attributes": attributes,
            "meta": {
                "executedAt": iso_z(started),
                "completedAt": iso_z(completed),
                "durationInSeconds": round(max(0.0, completed - started)),
            },
        }
    }
    return json_response(request, body)


def _set_limit_problem(vehicle: SimVehicle) -> tuple[str, str | None] | None:
    if vehicle.asleep:
        return "VEHICLE_STATE", "ASLEEP"
    if not vehicle.has_battery:
        return "COMPATIBILITY", "VEHICLE_NOT_CAPABLE"
    return None


# -- connections and users -------------------------------------------------------------


async def list_connections(request: web.Request) -> web.Response:
    """``GET /v3/connections``: newest first; ``filter[userId]`` (or the optional
    ``sc-user-id`` header), ``filter[vehicleId]``, ``page[number]``, ``page[size]`` (10)."""
    sim = request.app[SIM_KEY]
    require_app_token(request, sim)
    user_id = request.query.get("filter[userId]") or request.headers.get(USER_HEADER) or None
    found = sim.v3.list_connections(user_id, request.query.get("filter[vehicleId]") or None)
    page, meta, links = paged(request, found, CONNECTIONS_PAGE_SIZE)
    base = base_url(request)
    data = [connection_resource(base, c, sim.vehicles[c.vehicle_id]) for c in page]
    return json_response(request, {"data": data, "meta": meta, "links": links})


def _connection(request: web.Request, sim: SimulatorState) -> Connection:
    require_app_token(request, sim)
    conn = sim.v3.connections.get(request.match_info["connection_id"])
    if conn is None:
        raise Reject(
            v3_error(request, "RESOURCE_NOT_FOUND", "PATH", detail="Unknown connection id.")
        )
    return conn


async def get_connection(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    conn = _connection(request, sim)
    resource = connection_resource(base_url(request), conn, sim.vehicles[conn.vehicle_id])
    return json_response(request, {"data": resource})


async def delete_connection(request: web.Request) -> web.Response:
    """Disconnect one vehicle from one user; its webhook subscriptions go with it."""
    sim = request.app[SIM_KEY]
    sim.v3.remove_connection(_connection(request, sim).id)
    return web.Response(status=204)


async def delete_user(request: web.Request) -> web.Response:
    """``DELETE /v3/users/{id}``: every connection and subscription of the user; 404 when the
    user has none (nothing to remove)."""
    sim = request.app[SIM_KEY]
    require_app_token(request, sim)
    if sim.v3.remove_user(request.match_info["user_id"]) == 0:
        return v3_error(request, "RESOURCE_NOT_FOUND", "PATH", detail="Unknown user id.")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v3/connections", _guarded(list_connections))
    r.add_get("/v3/connections/{connection_id}", _guarded(get_connection))
    r.add_delete("/v3/connections/{connection_id}", _guarded(delete_connection))
    r.add_delete("/v3/users/{user_id}", _guarded(delete_user))
    r.add_get("/v3/vehicles/{vehicle_id}", _guarded(get_vehicle))
    r.add_get("/v3/vehicles/{vehicle_id}/", _guarded(get_vehicle))  # the node SDK's slash
    r.add_get("/v3/vehicles/{vehicle_id}/signals", _guarded(list_signals))
    r.add_get("/v3/vehicles/{vehicle_id}/signals/{code}", _guarded(get_signal))
    r.add_post("/v3/vehicles/{vehicle_id}/commands/{group}/{action}", _guarded(command))
