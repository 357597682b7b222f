"""Test/demo control surface under ``/_sim``, deliberately apart from the Smartcar routes.

``GET /_sim/vehicles`` lists the fleet with live state; ``POST /_sim/vehicles/{vin}/state``
changes it (``activity``: parked/driving/charging, ``asleep``, ``open_doors``, ``locked``,
``plugged_in``); ``POST /_sim/faults`` sets or clears global faults (``error_type``,
``error_code``, ``every_nth``, ``delay_s``); ``GET``/``POST /_sim/latency`` reads or sets the
modelled cloud latency (``api_latency_ms``, 0-600000; see ``SimulatorConfig.api_latency_s``) so
one running simulator can serve a zero-latency and a cloud-like run; ``POST
/_sim/tokens/expire`` expires every access token, v2 per-vehicle and V3 application alike.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from app.integrations.smartcar.simulator.core import SIM_KEY
from app.integrations.smartcar.simulator.errors import lookup
from app.integrations.smartcar.simulator.responses import Reject, json_response, read_json
from app.integrations.smartcar.simulator.state import DOORS, SimVehicle

_OPENABLE = (*DOORS, "front", "rear")


def _describe(v: SimVehicle) -> dict[str, Any]:
    return {
        "vin": v.spec.vin,
        "vehicle_id": v.vehicle_id,
        "make": v.spec.make,
        "model": v.spec.model,
        "powertrain": v.spec.powertrain,
        "activity": v.activity,
        "asleep": v.asleep,
        "locked": v.locked,
        "open_doors": sorted(v.open_doors),
        "latitude": v.lat,
        "longitude": v.lon,
        "odometer_km": v.odometer_km,
    }


def _bad(request: web.Request, message: str) -> web.Response:
    return json_response(request, {"error": "bad_request", "message": message}, 400)


async def list_vehicles(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    now = sim.clock()
    for v in sim.vehicles.values():
        v.advance(now)
    return json_response(request, [_describe(v) for v in sim.vehicles.values()])


async def set_state(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    vehicle = sim.by_vin.get(request.match_info["vin"].upper())
    if vehicle is None:
        return json_response(request, {"error": "not_found", "message": "unknown VIN"}, 404)
    try:
        body = await read_json(request)
    except Reject:
        return _bad(request, "expected a JSON object")
    if not isinstance(body, dict):
        return _bad(request, "expected a JSON object")
    activity = body.get("activity")
    doors = body.get("open_doors")
    if activity is not None and activity not in ("parked", "driving", "charging"):
        return _bad(request, "activity must be parked, driving or charging")
    if doors is not None and (
        not isinstance(doors, list) or any(d not in _OPENABLE for d in doors)
    ):
        return _bad(request, f"open_doors must list some of {', '.join(_OPENABLE)}")
    flags = {k: body[k] for k in ("asleep", "locked", "plugged_in") if k in body}
    if any(not isinstance(v, bool) for v in flags.values()):
        return _bad(request, "asleep, locked and plugged_in must be booleans")
    # Where the car stands now (a customer parking it somewhere: a zone rule to exercise).
    place = {k: body[k] for k in ("lat", "lon") if k in body}
    if place and (
        set(place) != {"lat", "lon"}
        or any(isinstance(v, bool) or not isinstance(v, int | float) for v in place.values())
        or not (-90 <= place["lat"] <= 90 and -180 <= place["lon"] <= 180)
    ):
        return _bad(request, "lat and lon go together, as numbers on the globe")
    now = sim.clock()
    vehicle.advance(now)
    if place:
        vehicle.lat, vehicle.lon = float(place["lat"]), float(place["lon"])
    if activity is not None:
        vehicle.set_activity(activity, now)
    if doors is not None:
        vehicle.open_doors = set(doors)
    for key, value in flags.items():
        setattr(vehicle, key, value)
    return json_response(request, _describe(vehicle))


async def set_faults(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    try:
        body = await read_json(request)
    except Reject:
        return _bad(request, "expected a JSON object")
    if not isinstance(body, dict):
        return _bad(request, "expected a JSON object")
    error = None
    if body.get("error_type"):
        kind = lookup(str(body["error_type"]), body.get("error_code"))
        if kind is None:
            return _bad(request, "unknown error_type/error_code")
        error = (kind.type, kind.code)
    every_nth, delay_s = body.get("every_nth", 1), body.get("delay_s", 0.0)
    if not isinstance(every_nth, int) or every_nth < 1:
        return _bad(request, "every_nth must be an integer >= 1")
    if not isinstance(delay_s, int | float) or not 0 <= delay_s <= 600:
        return _bad(request, "delay_s must be 0-600")
    sim.faults.error, sim.faults.every_nth = error, every_nth
    sim.faults.delay_s, sim.faults.counter = float(delay_s), 0
    return json_response(request, {"error": error, "every_nth": every_nth, "delay_s": delay_s})


async def get_latency(request: web.Request) -> web.Response:
    latency_ms = round(request.app[SIM_KEY].config.api_latency_s * 1000, 3)
    return json_response(request, {"api_latency_ms": latency_ms})


async def set_latency(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    try:
        body = await read_json(request)
    except Reject:
        return _bad(request, "expected a JSON object")
    latency_ms = body.get("api_latency_ms") if isinstance(body, dict) else None
    if (
        isinstance(latency_ms, bool)
        or not isinstance(latency_ms, int | float)
        or not 0 <= latency_ms <= 600_000
    ):
        return _bad(request, "api_latency_ms must be 0-600000")
    sim.config.api_latency_s = latency_ms / 1000
    return json_response(request, {"api_latency_ms": latency_ms})


async def expire_tokens(request: web.Request) -> web.Response:
    tokens = request.app[SIM_KEY].tokens
    count = tokens.expire_all_access_tokens()
    return json_response(
        request, {"expired": count, "expired_app_tokens": tokens.expire_all_app_tokens()}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/vehicles", list_vehicles)
    app.router.add_post("/_sim/vehicles/{vin}/state", set_state)
    app.router.add_post("/_sim/faults", set_faults)
    app.router.add_get("/_sim/latency", get_latency)
    app.router.add_post("/_sim/latency", set_latency)
    app.router.add_post("/_sim/tokens/expire", expire_tokens)
