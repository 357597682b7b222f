"""The Compatibility API: which VINs and permissions Smartcar could serve.

Simulated fleet VINs are compatible (per-endpoint capability follows the powertrain). Any other
well-formed VIN is judged like the real service would for an unknown car: model years before
2016 are ``VEHICLE_NOT_COMPATIBLE``, world-manufacturer codes outside the supported brands are
``MAKE_NOT_COMPATIBLE``, and the rest is assumed to be a combustion car of a supported brand.
"""

from __future__ import annotations

from aiohttp import web

from app.integrations.smartcar.simulator.core import SIM_KEY
from app.integrations.smartcar.simulator.oauth import app_client
from app.integrations.smartcar.simulator.reads import ENDPOINTS_BY_SCOPE, capable
from app.integrations.smartcar.simulator.responses import json_response, v2_error
from app.integrations.smartcar.simulator.specs import BRAND_WMI, decode_year, is_valid_vin


async def compatibility(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    if not app_client(request, sim):
        return v2_error(request, "AUTHENTICATION")
    vin = request.query.get("vin", "").upper()
    scopes = request.query.get("scope", "").split()
    if not is_valid_vin(vin) or not scopes:
        detail = [{"field": "vin" if not is_valid_vin(vin) else "scope", "message": "Invalid."}]
        return v2_error(request, "VALIDATION", detail=detail)
    unknown = [s for s in scopes if s not in ENDPOINTS_BY_SCOPE]
    if unknown:
        return v2_error(
            request, "VALIDATION", detail=[{"field": "scope", "message": f"Unknown {unknown[0]}"}]
        )
    vehicle = sim.by_vin.get(vin)
    if vehicle is not None:
        powertrain = vehicle.spec.powertrain
    elif vin[:3] not in BRAND_WMI.values():
        return json_response(
            request, {"compatible": False, "reason": "MAKE_NOT_COMPATIBLE", "capabilities": []}
        )
    elif (decode_year(vin, latest=2030) or 0) < 2016:
        return json_response(
            request, {"compatible": False, "reason": "VEHICLE_NOT_COMPATIBLE", "capabilities": []}
        )
    else:
        powertrain = "ice"
    capabilities = []
    for scope in scopes:
        for endpoint in ENDPOINTS_BY_SCOPE[scope]:
            ok = capable(powertrain, endpoint)
            capabilities.append(
                {
                    "capable": ok,
                    "endpoint": endpoint,
                    "permission": scope,
                    "reason": None if ok else "VEHICLE_NOT_CAPABLE",
                }
            )
    return json_response(
        request, {"compatible": True, "reason": None, "capabilities": capabilities}
    )
