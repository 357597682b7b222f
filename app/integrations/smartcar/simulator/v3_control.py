"""``/_sim`` controls for the webhook engine, apart from the Smartcar routes like the rest.

``POST /_sim/webhooks/tick`` runs one delivery round to completion and answers the counters,
``GET /_sim/webhooks/stats`` only answers them (``sent``, ``failed``, ``retried``,
``gave_up``, ``verified``, ``pending``). ``POST /_sim/vehicles/{vin}/error`` with
``{"type": "VEHICLE_STATE", "code": "UNREACHABLE"}`` (a catalogued pair) raises a
vehicle-level error: VEHICLE_ERROR (``state: "ERROR"``) goes to every webhook the vehicle is
subscribed to and its VEHICLE_STATE deliveries pause; ``{"clear": true}`` sends the same
error with ``state: "RESOLVED"`` and resumes them.
"""

from __future__ import annotations

from aiohttp import web

from app.integrations.smartcar.simulator.core import SIM_KEY
from app.integrations.smartcar.simulator.errors import lookup
from app.integrations.smartcar.simulator.responses import Reject, json_response, read_json
from app.integrations.smartcar.simulator.webhook_delivery import WEBHOOKS_KEY


def _bad(request: web.Request, message: str, status: int = 400) -> web.Response:
    return json_response(request, {"error": "bad_request", "message": message}, status)


async def tick(request: web.Request) -> web.Response:
    return json_response(request, await request.app[WEBHOOKS_KEY].tick())


async def stats(request: web.Request) -> web.Response:
    return json_response(request, request.app[WEBHOOKS_KEY].stats_json())


async def vehicle_error(request: web.Request) -> web.Response:
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
    engine = request.app[WEBHOOKS_KEY]
    if body.get("clear") is True:
        if vehicle.vehicle_id not in engine.vehicle_errors:
            return _bad(request, "this vehicle has no error set", 409)
        queued = engine.set_vehicle_error(vehicle.vehicle_id, None)
        engine.kick()
        return json_response(request, {"state": "RESOLVED", "queued": queued})
    kind = lookup(body.get("type"), body.get("code"))
    if kind is None:
        return _bad(request, "type/code must be a catalogued Smartcar error")
    queued = engine.set_vehicle_error(vehicle.vehicle_id, (kind.type, kind.code))
    engine.kick()
    return json_response(
        request, {"state": "ERROR", "type": kind.type, "code": kind.code, "queued": queued}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_sim/webhooks/tick", tick)
    app.router.add_get("/_sim/webhooks/stats", stats)
    app.router.add_post("/_sim/vehicles/{vin}/error", vehicle_error)
