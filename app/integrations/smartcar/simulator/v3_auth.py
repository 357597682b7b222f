"""API V3 authentication: the client-credentials token endpoint and who may reach a vehicle.

``POST /oauth2/token`` stands in for ``iam.smartcar.com/oauth2/token``. The docs send a form
body while the Home Assistant integration (and users) send JSON, and OAuth clients put the
credentials either in the body or in HTTP Basic, so every combination is accepted.

On vehicle routes an application token alone names no user, so it must come with
``sc-user-id``; the user's connection then decides whether the vehicle and which scopes are
allowed. A v2 per-vehicle access token (from ``/oauth/token``) is accepted without the header
because the official SDK's ``get_vehicle``/``get_signals``/``get_signal`` never send it; its
grant must still cover the vehicle and the connection must still exist (a removed user stops
answering on V3 either way).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from dataclasses import dataclass

from aiohttp import web

from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorState
from app.integrations.smartcar.simulator.oauth import FORM
from app.integrations.smartcar.simulator.responses import (
    Reject,
    json_response,
    oauth_error,
    v3_error,
)
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.simulator.v3_model import Connection

USER_HEADER = "sc-user-id"


def _basic(request: web.Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


async def _token_params(request: web.Request) -> dict[str, str] | None:
    """The body as a flat str dict (form or JSON), or None when it cannot be read."""
    if request.content_type == FORM:
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict):
            return None
        return {k: v for k, v in body.items() if isinstance(v, str)}
    return None


async def token(request: web.Request) -> web.Response:
    """Client credentials -> one application token (1 h, no refresh token)."""
    sim = request.app[SIM_KEY]
    params = await _token_params(request)
    if params is None:
        return oauth_error(
            request,
            400,
            "invalid_request",
            f"Send a {FORM} or application/json body.",
        )
    grant_type = params.get("grant_type")
    if not grant_type:
        return oauth_error(request, 400, "invalid_request", "Missing grant_type.")
    if grant_type != "client_credentials":
        return oauth_error(
            request, 400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type!r}."
        )
    basic = _basic(request)
    client_id, secret = basic or (params.get("client_id"), params.get("client_secret"))
    if not client_id or not secret:
        return oauth_error(request, 400, "invalid_request", "Missing client_id or client_secret.")
    if not (
        hmac.compare_digest(client_id, sim.config.client_id)
        and hmac.compare_digest(secret, sim.config.client_secret)
    ):
        return oauth_error(request, 401, "invalid_client", "Invalid client credentials.")
    return json_response(request, sim.tokens.issue_app_token(sim.config.client_id))


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def require_app_token(request: web.Request, sim: SimulatorState) -> None:
    """Connections and the Management API take the application token only (the AMT is a
    signing key, not a bearer token): anything else is 401 AUTHENTICATION."""
    value = bearer(request)
    if value is None or sim.tokens.app_client_for(value) != sim.config.client_id:
        raise Reject(v3_error(request, "AUTHENTICATION"))


@dataclass(frozen=True)
class VehicleAccess:
    """Who reaches which car with which scopes, and the connection's magic-login faults."""

    vehicle: SimVehicle
    connection: Connection

    @property
    def scopes(self) -> frozenset[str]:
        return self.connection.scopes

    @property
    def user_id(self) -> str:
        return self.connection.user_id


def vehicle_access(request: web.Request, sim: SimulatorState, vehicle_id: str) -> VehicleAccess:
    """Check token (401), header (400 MISSING_HEADER), id format (400), connection (404)."""
    value = bearer(request)
    if value is None:
        raise Reject(v3_error(request, "AUTHENTICATION"))
    grant = sim.tokens.grant_for(value)
    is_app = grant is None and sim.tokens.app_client_for(value) == sim.config.client_id
    if grant is None and not is_app:
        raise Reject(v3_error(request, "AUTHENTICATION"))
    try:
        uuid.UUID(vehicle_id)
    except ValueError:
        raise Reject(
            v3_error(
                request, "VALIDATION", "PARAMETER", detail="vehicleId must be a vehicle id (UUID)."
            )
        ) from None
    if grant is not None:
        user_id: str | None = grant.user_id if vehicle_id in grant.vehicle_ids else None
    else:
        user_id = request.headers.get(USER_HEADER, "").strip() or None
        if user_id is None:
            raise Reject(
                v3_error(
                    request,
                    "VALIDATION",
                    "MISSING_HEADER",
                    detail="An application token needs the sc-user-id header on vehicle routes.",
                )
            )
    vehicle = sim.vehicles.get(vehicle_id)
    conn = sim.v3.connection_for(user_id, vehicle_id) if user_id else None
    if vehicle is None or conn is None:
        raise Reject(
            v3_error(
                request,
                "RESOURCE_NOT_FOUND",
                "PATH",
                detail="No connected vehicle with this id for this user.",
            )
        )
    return VehicleAccess(vehicle, conn)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/oauth2/token", token)
