"""Management API V3 stand-in: webhooks and subscriptions (Bearer application token).

Real Smartcar creates webhooks only in its Dashboard; the simulator has no Dashboard, so
``POST /v3/webhooks`` plays that part. Like the Dashboard it first sends the VERIFY challenge
to ``callbackUri`` and stores the webhook (enabled) only when the receiver answers with the
right HMAC; otherwise 422 ``VALIDATION``/``VERIFICATION_FAILED``. Subscriptions come in both
documented spellings: top-level ``/v3/subscriptions`` (OpenAPI) and
``/v3/webhooks/{id}/subscriptions`` (launch blog).

Routes: ``GET/POST /v3/webhooks``, ``GET/DELETE /v3/webhooks/{id}``,
``GET/POST /v3/webhooks/{id}/subscriptions``,
``DELETE /v3/webhooks/{id}/subscriptions/{vehicleId}``,
``GET/POST /v3/subscriptions``, ``GET/DELETE /v3/subscriptions/{id}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from yarl import URL

from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorState
from app.integrations.smartcar.simulator.responses import (
    Reject,
    json_response,
    read_json_v3,
    v3_error,
)
from app.integrations.smartcar.simulator.v3_auth import require_app_token
from app.integrations.smartcar.simulator.v3_model import (
    Connection,
    SignalRef,
    Subscription,
    SubscriptionExists,
    Webhook,
    iso_z,
)
from app.integrations.smartcar.simulator.v3_paging import base_url, paged
from app.integrations.smartcar.simulator.v3_signals import (
    DEFAULT_TRIGGERS,
    SIGNALS,
    vehicle_attributes,
)
from app.integrations.smartcar.simulator.webhook_delivery import WEBHOOKS_KEY

PAGE_SIZE = 50
ACCEPTED = {"meta": {"message": "subscription creation in progress"}}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_resource(base: str, webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "type": "webhook",
        "attributes": {
            "name": webhook.name,
            "callbackUri": webhook.callback_uri,
            "isEnabled": webhook.enabled,
            "triggers": [r.as_json() for r in webhook.triggers],
            "data": [r.as_json() for r in webhook.data],
            "errorCallbackUri": webhook.error_callback_uri,
            "autoSubscribe": webhook.auto_subscribe,
        },
        "links": {"self": f"{base}/v3/webhooks/{webhook.id}"},
        "meta": {"createdAt": iso_z(webhook.created_at)},
    }


def subscription_resource(base: str, sim: SimulatorState, sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "type": "subscription",
        "attributes": {"vehicle": vehicle_attributes(sim.vehicles[sub.vehicle_id])},
        "meta": {"createdAt": iso_z(sub.created_at), "updatedAt": iso_z(sub.updated_at)},
        "relationships": {
            "webhook": {
                "data": {"type": "webhook", "id": sub.webhook_id},
                "links": {"related": f"{base}/v3/webhooks/{sub.webhook_id}"},
            },
            "user": {"data": {"type": "user", "id": sub.user_id}},
            "vehicle": {"data": {"type": "vehicle", "id": sub.vehicle_id}},
        },
        "links": {"self": f"{base}/v3/subscriptions/{sub.id}"},
    }


def _authorized(handler: Handler) -> Handler:
    """Application token required; a raised :class:`Reject` becomes its response."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            require_app_token(request, request.app[SIM_KEY])
            return await handler(request)
        except Reject as rejected:
            return rejected.response

    run.__doc__ = handler.__doc__
    return run


def _bad(request: web.Request, detail: str) -> Reject:
    return Reject(v3_error(request, "VALIDATION", "PARAMETER", detail=detail))


def _not_found(request: web.Request, detail: str) -> Reject:
    return Reject(v3_error(request, "RESOURCE_NOT_FOUND", "PATH", detail=detail))


async def _attributes(request: web.Request) -> dict[str, Any]:
    """``data.attributes`` of a JSON:API request body (400 when it is not an object)."""
    payload = await read_json_v3(request)
    data = payload.get("data") if isinstance(payload, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise _bad(request, 'Expected a body {"data": {"attributes": {...}}}.')
    return attributes


def _signal_refs(value: Any, default: tuple[str, ...], field: str) -> list[SignalRef]:
    """Signals given as codes or ``{code}`` objects; omitted = ``default``."""
    if value is None:
        return [SIGNALS[c].ref for c in default]
    if not isinstance(value, list) or not value:
        raise ValueError(f"{field} must be a non-empty list of signal codes.")
    refs = []
    for item in value:
        code = item.get("code") if isinstance(item, dict) else item
        if not isinstance(code, str) or code not in SIGNALS:
            raise ValueError(f"{field}: unknown signal {code!r}.")
        refs.append(SIGNALS[code].ref)
    return list(dict.fromkeys(refs))


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = URL(value)
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def parse_webhook_attributes(attributes: dict[str, Any], now: float) -> Webhook:
    """Validate a registration body into a (not yet verified) webhook; ValueError says
    what is wrong. Omitted triggers/data get :data:`DEFAULT_TRIGGERS` / every signal."""
    name, callback = attributes.get("name"), attributes.get("callbackUri")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name is required.")
    if not _is_http_url(callback):
        raise ValueError("callbackUri must be an http(s) URL.")
    error_uri = attributes.get("errorCallbackUri")
    if error_uri is not None and not _is_http_url(error_uri):
        raise ValueError("errorCallbackUri must be an http(s) URL.")
    auto = attributes.get("autoSubscribe", False)
    if not isinstance(auto, bool):
        raise ValueError("autoSubscribe must be a boolean.")
    return Webhook(
        id=str(uuid.uuid4()),
        name=name.strip(),
        callback_uri=str(callback),
        triggers=_signal_refs(attributes.get("triggers"), DEFAULT_TRIGGERS, "triggers"),
        data=_signal_refs(attributes.get("data"), tuple(SIGNALS), "data"),
        error_callback_uri=error_uri,
        auto_subscribe=auto,
        created_at=now,
    )


async def register_webhook(
    sim: SimulatorState, app: web.Application, webhook: Webhook
) -> str | None:
    """VERIFY, then store: None on success, else why verification failed. Shared by the
    route and the CLI's ``--webhook-url``."""
    engine = app[WEBHOOKS_KEY]
    problem = await engine.verify(webhook.id, webhook.name, webhook.callback_uri)
    if problem is not None:
        return problem
    sim.v3.add_webhook(webhook)
    engine.ensure_running()
    return None


async def create_webhook(request: web.Request) -> web.Response:
    """``POST /v3/webhooks`` (the Dashboard's stand-in): 201 after a passed VERIFY."""
    sim = request.app[SIM_KEY]
    try:
        webhook = parse_webhook_attributes(await _attributes(request), sim.clock())
    except ValueError as exc:
        raise _bad(request, str(exc)) from None
    problem = await register_webhook(sim, request.app, webhook)
    if problem is not None:
        return v3_error(
            request,
            "VALIDATION",
            "VERIFICATION_FAILED",
            detail=f"Webhook verification failed: {problem}.",
        )
    return json_response(request, {"data": webhook_resource(base_url(request), webhook)}, 201)


async def list_webhooks(request: web.Request) -> web.Response:
    """``GET /v3/webhooks``: ``filter[name]``, ``filter[callbackUri]``, paging (50)."""
    sim = request.app[SIM_KEY]
    name, uri = request.query.get("filter[name]"), request.query.get("filter[callbackUri]")
    found = [
        w
        for w in sim.v3.webhooks.values()
        if (name is None or w.name == name) and (uri is None or w.callback_uri == uri)
    ]
    found.sort(key=lambda w: w.created_at, reverse=True)
    page, meta, links = paged(request, found, PAGE_SIZE)
    base = base_url(request)
    data = [webhook_resource(base, w) for w in page]
    return json_response(request, {"data": data, "meta": meta, "links": links})


def _webhook(request: web.Request) -> Webhook:
    webhook = request.app[SIM_KEY].v3.webhooks.get(request.match_info["webhook_id"])
    if webhook is None:
        raise _not_found(request, "Unknown webhook id.")
    return webhook


async def get_webhook(request: web.Request) -> web.Response:
    return json_response(request, {"data": webhook_resource(base_url(request), _webhook(request))})


async def delete_webhook(request: web.Request) -> web.Response:
    """Removes the webhook and its subscriptions."""
    request.app[SIM_KEY].v3.remove_webhook(_webhook(request).id)
    return web.Response(status=204)


def _connections_to_subscribe(
    request: web.Request, sim: SimulatorState, attributes: dict[str, Any]
) -> list[Connection]:
    vehicle_id, user_id = attributes.get("vehicleId"), attributes.get("userId")
    if isinstance(vehicle_id, str) and vehicle_id:
        conn = sim.v3.newest_connection_of_vehicle(vehicle_id)
        if user_id is not None:
            conn = sim.v3.connection_for(str(user_id), vehicle_id)
        if conn is None:
            raise _not_found(request, "This vehicle is not connected.")
        return [conn]
    if isinstance(user_id, str) and user_id:
        found = sim.v3.list_connections(user_id=user_id)
        if not found:
            raise _not_found(request, "This user has no connected vehicles.")
        return found
    raise _bad(request, "vehicleId (or userId) is required.")


async def _subscribe(
    request: web.Request, webhook_id: Any, attributes: dict[str, Any]
) -> web.Response:
    sim = request.app[SIM_KEY]
    webhook = sim.v3.webhooks.get(webhook_id) if isinstance(webhook_id, str) else None
    if webhook is None:
        raise _not_found(request, "Unknown webhook id.")
    created = 0
    for conn in _connections_to_subscribe(request, sim, attributes):
        try:
            sim.v3.subscribe(webhook.id, conn)
            created += 1
        except SubscriptionExists:
            continue
    if not created:
        return v3_error(
            request, "VALIDATION", "CONFLICT", detail="Already subscribed to this webhook."
        )
    request.app[WEBHOOKS_KEY].kick()  # FIRST_DELIVERY goes out promptly
    return json_response(request, ACCEPTED, 202)


async def create_subscription(request: web.Request) -> web.Response:
    """``POST /v3/subscriptions`` ``{webhookId, vehicleId | userId}`` -> 202."""
    attributes = await _attributes(request)
    return await _subscribe(request, attributes.get("webhookId"), attributes)


async def create_webhook_subscription(request: web.Request) -> web.Response:
    """``POST /v3/webhooks/{id}/subscriptions`` ``{vehicleId}`` (the blog form) -> 202."""
    attributes = await _attributes(request)
    return await _subscribe(request, request.match_info["webhook_id"], attributes)


async def list_subscriptions(request: web.Request) -> web.Response:
    """``GET /v3/subscriptions``: ``filter[userId|webhookId|vehicleId]``, paging (50)."""
    sim = request.app[SIM_KEY]
    q = request.query
    found = sim.v3.list_subscriptions(
        q.get("filter[userId]"), q.get("filter[webhookId]"), q.get("filter[vehicleId]")
    )
    found.sort(key=lambda s: s.created_at, reverse=True)
    page, meta, links = paged(request, found, PAGE_SIZE)
    base = base_url(request)
    data = [subscription_resource(base, sim, s) for s in page]
    return json_response(request, {"data": data, "meta": meta, "links": links})


async def list_webhook_subscriptions(request: web.Request) -> web.Response:
    """``GET /v3/webhooks/{id}/subscriptions`` (blog form): that webhook's subscriptions."""
    sim = request.app[SIM_KEY]
    found = sim.v3.list_subscriptions(webhook_id=_webhook(request).id)
    found.sort(key=lambda s: s.created_at, reverse=True)
    page, meta, links = paged(request, found, PAGE_SIZE)
    base = base_url(request)
    data = [subscription_resource(base, sim, s) for s in page]
    return json_response(request, {"data": data, "meta": meta, "links": links})


def _subscription(request: web.Request) -> Subscription:
    sub = request.app[SIM_KEY].v3.subscriptions.get(request.match_info["subscription_id"])
    if sub is None:
        raise _not_found(request, "Unknown subscription id.")
    return sub


async def get_subscription(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    resource = subscription_resource(base_url(request), sim, _subscription(request))
    return json_response(request, {"data": resource})


async def delete_subscription(request: web.Request) -> web.Response:
    request.app[SIM_KEY].v3.unsubscribe(_subscription(request).id)
    return web.Response(status=204)


async def delete_webhook_subscription(request: web.Request) -> web.Response:
    """``DELETE /v3/webhooks/{id}/subscriptions/{vehicleId}``."""
    sim = request.app[SIM_KEY]
    webhook = _webhook(request)
    sub = sim.v3.subscription_for(webhook.id, request.match_info["vehicle_id"])
    if sub is None:
        raise _not_found(request, "This vehicle is not subscribed to this webhook.")
    sim.v3.unsubscribe(sub.id)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v3/webhooks", _authorized(list_webhooks))
    r.add_post("/v3/webhooks", _authorized(create_webhook))
    r.add_get("/v3/webhooks/{webhook_id}", _authorized(get_webhook))
    r.add_delete("/v3/webhooks/{webhook_id}", _authorized(delete_webhook))
    r.add_get("/v3/webhooks/{webhook_id}/subscriptions", _authorized(list_webhook_subscriptions))
    r.add_post("/v3/webhooks/{webhook_id}/subscriptions", _authorized(create_webhook_subscription))
    r.add_delete(
        "/v3/webhooks/{webhook_id}/subscriptions/{vehicle_id}",
        _authorized(delete_webhook_subscription),
    )
    r.add_get("/v3/subscriptions", _authorized(list_subscriptions))
    r.add_post("/v3/subscriptions", _authorized(create_subscription))
    r.add_get("/v3/subscriptions/{subscription_id}", _authorized(get_subscription))
    r.add_delete("/v3/subscriptions/{subscription_id}", _authorized(delete_subscription))
