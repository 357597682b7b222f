"""The token endpoint (``POST /oauth/token``) and client authentication shared with the
Compatibility API (Basic client credentials or a client-credentials Bearer token)."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web

from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorState
from app.integrations.smartcar.simulator.responses import json_response, oauth_error
from app.integrations.smartcar.simulator.tokens import OAuthError

FORM = "application/x-www-form-urlencoded"


def basic_client(request: web.Request, sim: SimulatorState) -> bool:
    """True when the Authorization header carries this app's id and secret (constant time)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, sim.config.client_id) and hmac.compare_digest(
        password, sim.config.client_secret
    )


def app_client(request: web.Request, sim: SimulatorState) -> bool:
    """Basic client credentials, or a Bearer token from the client-credentials grant."""
    if basic_client(request, sim):
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and sim.tokens.app_client_for(token) == sim.config.client_id


async def token(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    if not basic_client(request, sim):
        return oauth_error(request, 401, "invalid_client", "Invalid client credentials.")
    if request.content_type != FORM:
        return oauth_error(request, 400, "invalid_request", f"Content-Type must be {FORM}.")
    form = await request.post()
    grant_type = form.get("grant_type")
    try:
        if grant_type == "authorization_code":
            code = form.get("code")
            if not isinstance(code, str) or not code:
                return oauth_error(request, 400, "invalid_request", "Missing code.")
            redirect_uri = form.get("redirect_uri")
            pair = sim.tokens.exchange_code(
                sim.config.client_id, code, redirect_uri if isinstance(redirect_uri, str) else None
            )
        elif grant_type == "refresh_token":
            refresh = form.get("refresh_token")
            if not isinstance(refresh, str) or not refresh:
                return oauth_error(request, 400, "invalid_request", "Missing refresh_token.")
            pair = sim.tokens.exchange_refresh(sim.config.client_id, refresh)
        elif grant_type == "client_credentials":
            return json_response(request, sim.tokens.issue_app_token(sim.config.client_id))
        else:
            return oauth_error(
                request, 400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type!r}."
            )
    except OAuthError as exc:
        return oauth_error(request, exc.status, exc.error, exc.description)
    return json_response(request, pair.as_json())


def add_routes(app: web.Application) -> None:
    app.router.add_post("/oauth/token", token)
