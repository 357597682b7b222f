"""The Vehicles API v2.0 surface: user, vehicle list, reads, batch, commands, disconnect.

Order of checks for a vehicle request mirrors the real service: token (401 AUTHENTICATION),
vehicle id format (400 VALIDATION), vehicle covered by the token (401 AUTHENTICATION), the
per-vehicle throttle (429 RATE_LIMIT:VEHICLE + ``Retry-After``), the modelled latency of
reaching the car (``api_latency_s`` plus any fault delay; once per request, batch included),
forced faults, then the endpoint's own permission (403 PERMISSION), capability (501) and
vehicle-state (409) checks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from aiohttp import web

from app.integrations.smartcar.simulator.compat import compatibility
from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorState
from app.integrations.smartcar.simulator.errors import error_body
from app.integrations.smartcar.simulator.reads import READS, ReadError, Units, read
from app.integrations.smartcar.simulator.responses import (
    Reject,
    json_response,
    read_json,
    request_id,
    v2_error,
)
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.simulator.tokens import Grant

FAULT_RETRY_AFTER_S = 30
MAX_BATCH_ITEMS = 50
_SUCCESS = {"message": "Successfully sent request to vehicle", "status": "success"}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _grant(request: web.Request, sim: SimulatorState) -> Grant:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    grant = sim.tokens.grant_for(token) if scheme.lower() == "bearer" else None
    if grant is None:
        raise Reject(v2_error(request, "AUTHENTICATION"))
    return grant


def _paging(request: web.Request, default_limit: int, max_limit: int) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", default_limit))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        limit = offset = -1
    if not (1 <= limit <= max_limit) or offset < 0:
        detail = [{"field": "limit/offset", "message": f"limit 1-{max_limit}, offset >= 0"}]
        raise Reject(v2_error(request, "VALIDATION", "PARAMETER", detail=detail))
    return limit, offset


def _units(request: web.Request) -> Units:
    system = request.headers.get("SC-Unit-System", "metric").lower()
    if system not in ("metric", "imperial"):
        detail = [{"field": "SC-Unit-System", "message": "metric or imperial"}]
        raise Reject(v2_error(request, "VALIDATION", "PARAMETER", detail=detail))
    return Units(imperial=system == "imperial")


def _forced(sim: SimulatorState, grant: Grant) -> tuple[str, str | None] | None:
    if grant.fault is not None:
        return grant.fault
    return sim.faults.error if sim.faults.should_fail() else None


@dataclass
class _ReadContext:
    """What every read of one vehicle request shares. A batch builds it once: its items are
    answered by the same car at the same instant in the same unit system, so the unit header,
    the clock and the ``SC-Data-Age``/``SC-Fetched-At`` strings need not be redone per item."""

    sim: SimulatorState
    grant: Grant
    vehicle: SimVehicle
    units: Units
    now: float

    @cached_property
    def data_headers(self) -> dict[str, str]:
        return {
            "SC-Data-Age": _iso(self.vehicle.reported_at(self.now)),
            "SC-Fetched-At": _iso(self.now),
            "SC-Unit-System": "imperial" if self.units.imperial else "metric",
        }


def _one_read(
    request: web.Request, ctx: _ReadContext, path: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for one GET path; shared by direct reads and batch items."""
    forced = None if READS[path].static else _forced(ctx.sim, ctx.grant)
    try:
        if forced is not None:
            raise ReadError(*forced)
        body = read(ctx.vehicle, path, ctx.grant.scopes, ctx.units, ctx.now)
    except ReadError as err:
        status, body = error_body(err.type, err.code, request_id(request))
        extra = {"Retry-After": str(FAULT_RETRY_AFTER_S)} if status == 429 else {}
        return status, body, extra
    return 200, body, ctx.data_headers


def _item_headers(headers: dict[str, str]) -> dict[str, str]:
    """Batch items use lower-case names, except ``Retry-After`` which the python SDK looks up
    case-sensitively (python-sdk #135)."""
    return {k if k == "Retry-After" else k.lower(): v for k, v in headers.items()}


async def _batch(
    request: web.Request, sim: SimulatorState, grant: Grant, vehicle: SimVehicle
) -> web.Response:
    payload = await read_json(request)
    items = payload.get("requests") if isinstance(payload, dict) else None
    paths = [i.get("path") if isinstance(i, dict) else None for i in items or []]
    bad = (
        not isinstance(items, list)
        or not 0 < len(items) <= MAX_BATCH_ITEMS
        or any(not isinstance(p, str) or p.strip("/") not in READS for p in paths)
    )
    if bad:
        detail = [{"field": "requests", "message": "1-50 items, each a known GET path"}]
        return v2_error(request, "VALIDATION", detail=detail)
    ctx = _ReadContext(sim, grant, vehicle, _units(request), sim.clock())
    responses = []
    for path in paths:
        status, body, headers = _one_read(request, ctx, str(path).strip("/"))
        responses.append(
            {"path": path, "code": status, "body": body, "headers": _item_headers(headers)}
        )
    return json_response(request, {"responses": responses})


async def _command(
    request: web.Request, sim: SimulatorState, grant: Grant, vehicle: SimVehicle, what: str
) -> web.Response:
    payload = await read_json(request)
    action = payload.get("action") if isinstance(payload, dict) else None
    allowed = {"security": ("LOCK", "UNLOCK"), "charge": ("START", "STOP")}[what]
    if action not in allowed:
        detail = [{"field": "action", "message": f"one of {', '.join(allowed)}"}]
        return v2_error(request, "VALIDATION", detail=detail)
    if f"control_{what}" not in grant.scopes:
        return v2_error(request, "PERMISSION")
    forced = _forced(sim, grant)
    if forced is not None:
        return _error_with_retry(request, *forced)
    vehicle.advance(sim.clock())
    problem = command_problem(vehicle, what, action)
    if problem is not None:
        return v2_error(request, *problem)
    if what == "security":
        vehicle.locked = action == "LOCK"
    else:
        vehicle.set_activity("charging" if action == "START" else "parked", sim.clock())
        vehicle.plugged_in = True
    return json_response(request, _SUCCESS)


def command_problem(v: SimVehicle, what: str, action: str) -> tuple[str, str | None] | None:
    """Why the car refuses a command right now (shared with the V3 commands), or None."""
    if v.asleep:
        return "VEHICLE_STATE", "ASLEEP"
    if what == "charge":
        if not v.has_battery:
            return "COMPATIBILITY", "VEHICLE_NOT_CAPABLE"
        if not v.plugged_in:
            return "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED"
        return None
    if v.activity == "driving":
        return "VEHICLE_STATE", "IN_MOTION"
    if action == "LOCK" and v.open_doors:
        return "VEHICLE_STATE", "DOOR_OPEN"
    return None


def _error_with_retry(request: web.Request, type_: str, code: str | None) -> web.Response:
    response = v2_error(request, type_, code)
    if response.status == 429:
        response.headers["Retry-After"] = str(FAULT_RETRY_AFTER_S)
    return response


async def _vehicle_request(
    request: web.Request, sim: SimulatorState, vehicle_id: str, sub: str
) -> web.Response:
    grant = _grant(request, sim)
    try:
        uuid.UUID(vehicle_id)
    except ValueError:
        detail = [{"field": "vehicle_id", "message": "Must be a vehicle id (UUID)."}]
        return v2_error(request, "VALIDATION", detail=detail)
    vehicle = sim.vehicles.get(vehicle_id)
    if vehicle is None or vehicle_id not in grant.vehicle_ids:
        return v2_error(request, "AUTHENTICATION")
    wait = sim.limiter.acquire(vehicle_id)
    if wait:
        return v2_error(request, "RATE_LIMIT", "VEHICLE", headers={"Retry-After": str(wait)})
    fault_delay = sim.config.slow_delay_s if grant.slow else sim.faults.delay_s
    delay = sim.config.api_latency_s + fault_delay
    if delay > 0:
        await sim.config.sleep(delay)
    method = request.method
    if method == "GET" and sub in READS:
        ctx = _ReadContext(sim, grant, vehicle, _units(request), sim.clock())
        status, body, headers = _one_read(request, ctx, sub)
        return json_response(request, body, status, headers)
    if method == "GET" and sub == "permissions":
        limit, offset = _paging(request, 25, 100)
        scopes = sorted(grant.scopes)
        return json_response(
            request,
            {
                "permissions": scopes[offset : offset + limit],
                "paging": {"count": len(scopes), "offset": offset},
            },
        )
    if method == "POST" and sub == "batch":
        return await _batch(request, sim, grant, vehicle)
    if method == "POST" and sub in ("security", "charge"):
        return await _command(request, sim, grant, vehicle, sub)
    if method == "DELETE" and sub == "application":
        grant.vehicle_ids.remove(vehicle_id)
        return json_response(request, {"status": "success"})
    return v2_error(request, "RESOURCE_NOT_FOUND", "PATH", status=404)


async def dispatch(request: web.Request) -> web.StreamResponse:
    """One handler for ``/v{major}.{minor}/...`` so trailing slashes and batch paths agree."""
    sim = request.app[SIM_KEY]
    parts = [p for p in request.match_info["rest"].split("/") if p]
    try:
        if request.method == "GET" and parts == ["compatibility"]:
            return await compatibility(request)
        if request.method == "GET" and parts == ["user"]:
            return json_response(request, {"id": _grant(request, sim).user_id})
        if request.method == "GET" and parts == ["vehicles"]:
            grant = _grant(request, sim)
            limit, offset = _paging(request, 10, 50)
            ids = grant.vehicle_ids
            return json_response(
                request,
                {
                    "vehicles": ids[offset : offset + limit],
                    "paging": {"count": len(ids), "offset": offset},
                },
            )
        if len(parts) >= 2 and parts[0] == "vehicles":
            return await _vehicle_request(request, sim, parts[1], "/".join(parts[2:]))
    except Reject as rejected:
        return rejected.response
    return v2_error(request, "RESOURCE_NOT_FOUND", "PATH")


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", r"/{version:v[0-9]+\.[0-9]+}/{rest:.*}", dispatch)
