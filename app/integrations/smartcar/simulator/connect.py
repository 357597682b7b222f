"""Connect pages: brand selection, manufacturer login, permissions, then the redirect back.

Plain HTML forms posting back to the simulator (no JavaScript), with stable element ids so a
QtWebEngine GUI test can click through them: brand buttons ``button[data-make]`` (id
``brand-<MAKE>``), inputs ``name=email`` / ``name=password`` (button ``id=login``), and the
grant buttons ``id=allow`` / ``id=deny``.

Allow redirects with ``code`` (v2: exchange it at ``/oauth/token``), ``user_id`` (V3: the
``sc-user-id`` to send with an application token) and ``state``; every approved vehicle becomes
(or refreshes) a V3 connection.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from aiohttp import web
from yarl import URL

from app.integrations.smartcar.simulator.core import (
    DEFAULT_SCOPES,
    SIM_KEY,
    ConnectSession,
    SimulatorState,
)
from app.integrations.smartcar.simulator.errors import lookup
from app.integrations.smartcar.simulator.reads import ENDPOINTS_BY_SCOPE, capable
from app.integrations.smartcar.simulator.responses import html_page
from app.integrations.smartcar.simulator.specs import BRAND_NAMES
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.simulator.tokens import Grant, user_id_for

logger = logging.getLogger(__name__)

SESSION_TTL_S = 1800.0

#: Logins that end Connect with a redirect error, like Smartcar's own simulator accounts.
CONNECT_ERROR_EMAILS = {
    "smartcar@invalid-subscription.com": (
        "invalid_subscription",
        "User does not have an active connected vehicle subscription.",
    ),
    "smartcar@vehicle-incompatible.com": (
        "vehicle_incompatible",
        "The user's vehicle is not compatible.",
    ),
    "smartcar@no-vehicles.com": (
        "no_vehicles",
        "No vehicles found. Please add vehicles to your account and try again.",
    ),
    "smartcar@server-error.com": ("server_error", "Unexpected server error."),
}


def _redirect(session: ConnectSession, **params: str) -> web.HTTPFound:
    if session.state is not None:
        params["state"] = session.state
    return web.HTTPFound(str(URL(session.redirect_uri).update_query(params)))


def _session(request: web.Request) -> tuple[SimulatorState, str, ConnectSession]:
    sim = request.app[SIM_KEY]
    sid = request.match_info["sid"]
    session = sim.sessions.get(sid)
    if session is None or session.expires_at <= sim.clock():
        raise web.HTTPBadRequest(reason="This Connect session has expired. Start again.")
    return sim, sid, session


async def authorize(request: web.Request) -> web.StreamResponse:
    """``GET /oauth/authorize``: validate the app, open a session, show the first page."""
    sim = request.app[SIM_KEY]
    q = request.query
    if q.get("client_id") != sim.config.client_id:
        raise web.HTTPBadRequest(reason="Unknown client_id.")
    redirect_uri = q.get("redirect_uri") or sim.config.redirect_uris[0]
    if redirect_uri not in sim.config.redirect_uris:
        raise web.HTTPBadRequest(reason=f"Unauthorized redirect_uri: {redirect_uri}")
    if q.get("response_type") != "code":
        raise web.HTTPBadRequest(reason="response_type must be 'code'.")
    scopes = [s.removeprefix("required:") for s in q.get("scope", "").split() if s]
    make = q.get("make", "").upper() or None
    vin = q.get("single_select_vin") or None
    session = ConnectSession(
        client_id=sim.config.client_id,
        redirect_uri=redirect_uri,
        scopes=list(dict.fromkeys(scopes or DEFAULT_SCOPES)),
        state=q.get("state"),
        mode=q.get("mode", "live"),
        make=make if make in BRAND_NAMES else None,
        single_select_vin=vin,
        expires_at=sim.clock() + SESSION_TTL_S,
    )
    if session.mode not in ("live", "simulated", "test"):
        raise _redirect(session, error="configuration_error", error_description="Invalid mode.")
    if vin is not None:
        vehicle = sim.by_vin.get(vin.upper())
        if vehicle is None:
            raise _redirect(
                session,
                error="configuration_error",
                error_description=f"Unknown VIN {vin}.",
                status_code="400",
                error_message="Invalid VIN",
            )
        session.make = vehicle.spec.make
    sid = sim.new_session(session)
    if session.make is None:
        return _brand_page(sid)
    raise web.HTTPSeeOther(f"/oauth/connect/{sid}/login")


def _brand_page(sid: str) -> web.Response:
    buttons = "".join(
        f"<button type='submit' name='make' value='{make}' data-make='{make}' "
        f"id='brand-{make}'>{html.escape(name)}</button>"
        for make, name in BRAND_NAMES.items()
    )
    body = (
        "<p>Select your vehicle's brand.</p>"
        f"<form id='brands' method='post' action='/oauth/connect/{sid}/brand'>{buttons}</form>"
    )
    return html_page("Connect your car", body)


async def choose_brand(request: web.Request) -> web.StreamResponse:
    _, sid, session = _session(request)
    form = await request.post()
    make = str(form.get("make", "")).upper()
    if make not in BRAND_NAMES:
        raise web.HTTPBadRequest(reason="Unknown brand.")
    session.make = make
    raise web.HTTPSeeOther(f"/oauth/connect/{sid}/login")


async def login_page(request: web.Request) -> web.StreamResponse:
    _, sid, session = _session(request)
    # Fleet records spell makes their own way ("Nissan"); the brand table is upper case.
    brand = BRAND_NAMES.get((session.make or "").upper())
    account = f"{brand} account" if brand else "manufacturer account"
    body = (
        f"<p id='sign-in'>Sign in with your {html.escape(account)}.</p>"
        f"<form id='login-form' method='post' action='/oauth/connect/{sid}/login'>"
        "<label>Email <input type='email' id='email' name='email' required></label><br>"
        "<label>Password <input type='password' id='password' name='password' required>"
        "</label><br><button type='submit' id='login'>Sign in</button></form>"
    )
    return html_page(f"{brand or 'Manufacturer'} login", body)


async def login(request: web.Request) -> web.StreamResponse:
    sim, sid, session = _session(request)
    form = await request.post()
    email = str(form.get("email", "")).strip()
    if not email or "@" not in email or not form.get("password"):
        raise web.HTTPBadRequest(reason="Enter an email address and a password.")
    forced = CONNECT_ERROR_EMAILS.get(email.lower())
    if forced is not None:
        sim.sessions.pop(sid, None)
        raise _redirect(session, error=forced[0], error_description=forced[1])
    session.email = email
    session.vehicle_ids = sim.vehicles_for_login(email, session.make, session.single_select_vin)
    if not session.vehicle_ids:
        sim.sessions.pop(sid, None)
        raise _redirect(
            session,
            error="no_vehicles",
            error_description="No vehicles found. Please add vehicles to your account and "
            "try again.",
        )
    raise web.HTTPSeeOther(f"/oauth/connect/{sid}/permissions")


async def permissions_page(request: web.Request) -> web.StreamResponse:
    sim, sid, session = _session(request)
    if session.email is None:
        raise web.HTTPSeeOther(f"/oauth/connect/{sid}/login")
    vehicles = [sim.vehicles[vid] for vid in session.vehicle_ids]
    scopes = "".join(
        f"<li data-scope='{html.escape(s)}'>{html.escape(s)}{_availability(s, vehicles)}</li>"
        for s in session.scopes
    )
    cars = "".join(
        f"<li data-vin='{v.spec.vin}'>{v.spec.year} {html.escape(v.spec.make)} "
        f"{html.escape(v.spec.model)}</li>"
        for v in vehicles
    )
    body = (
        f"<p>The application is requesting access to:</p><ul id='scopes'>{scopes}</ul>"
        f"<p>for these vehicles:</p><ul id='vehicles'>{cars}</ul>"
        f"<form id='grant' method='post' action='/oauth/connect/{sid}/permissions'>"
        "<button type='submit' name='decision' value='allow' id='allow'>Allow</button>"
        "<button type='submit' name='decision' value='deny' id='deny'>Deny</button></form>"
    )
    return html_page("Grant access", body)


def _availability(scope: str, vehicles: list[SimVehicle]) -> str:
    """Say so when no chosen car can serve a permission (``read_battery`` on a combustion
    car): it is still granted, as Smartcar grants per application, but the owner and the
    console's compatibility step then tell the same story."""
    endpoints = ENDPOINTS_BY_SCOPE.get(scope, [])
    if not endpoints or any(capable(v.spec.powertrain, e) for v in vehicles for e in endpoints):
        return ""
    return " <em class='unavailable'>(granted, but this vehicle has nothing to report)</em>"


async def decide(request: web.Request) -> web.StreamResponse:
    sim, sid, session = _session(request)
    form = await request.post()
    decision = form.get("decision")
    if session.email is None or decision not in ("allow", "deny"):
        raise web.HTTPBadRequest(reason="Choose Allow or Deny.")
    sim.sessions.pop(sid, None)
    if decision == "deny":
        raise _redirect(
            session, error="access_denied", error_description="User denied access to application."
        )
    grant = Grant(
        client_id=session.client_id,
        user_id=user_id_for(session.email),
        vehicle_ids=list(session.vehicle_ids),
        scopes=frozenset(session.scopes),
        **_magic(session.email),
    )
    code = sim.tokens.issue_code(grant, session.redirect_uri)
    for vehicle_id in grant.vehicle_ids:
        # API V3 sees the same approval as one connection per vehicle.
        sim.v3.connect(grant.user_id, vehicle_id, grant.scopes, fault=grant.fault, slow=grant.slow)
    logger.info("connect granted %d vehicles", len(grant.vehicle_ids))
    # ``code`` for v2 clients (token exchange), ``user_id`` for V3 ones (sc-user-id).
    raise _redirect(session, code=code, user_id=grant.user_id)


def _magic(email: str) -> dict[str, Any]:
    """``<TYPE>.<CODE>@...`` forces that error; ``TIMEOUT.SLOW@...`` delays every response."""
    local = email.split("@", 1)[0].upper()
    if local == "TIMEOUT.SLOW":
        return {"slow": True}
    type_, _, code = local.partition(".")
    kind = lookup(type_, None if code in ("", "NULL") else code)
    return {"fault": (kind.type, kind.code)} if kind else {}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/oauth/authorize", authorize)
    app.router.add_post("/oauth/connect/{sid}/brand", choose_brand)
    app.router.add_get("/oauth/connect/{sid}/login", login_page)
    app.router.add_post("/oauth/connect/{sid}/login", login)
    app.router.add_get("/oauth/connect/{sid}/permissions", permissions_page)
    app.router.add_post("/oauth/connect/{sid}/permissions", decide)
