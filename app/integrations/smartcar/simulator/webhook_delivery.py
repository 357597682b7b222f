"""Webhook delivery (payload version 4.0): VERIFY, VEHICLE_STATE and VEHICLE_ERROR events.

The engine works in *rounds*. A round advances every subscribed vehicle to ``config.clock()``,
compares each webhook's trigger signals with what the last successful delivery carried
(location counts as changed only after moving more than :data:`LOCATION_EPSILON_M`), queues a
VEHICLE_STATE event (``FIRST_DELIVERY`` for a new subscription, else ``SIGNAL_UPDATED``
naming the changed triggers) and then posts every event that is due, at most
:data:`MAX_IN_FLIGHT` at once. A failed attempt (non-2xx, timeout after
:data:`DELIVERY_TIMEOUT_S`, refused connection) is retried after
``config.webhook_retry_delays_s`` (the cloud's 25/50/100 s) with the same ``eventId`` and a new
``deliveryId``, then given up and logged. One VEHICLE_STATE event per subscription is
outstanding at a time, so a slow receiver sees the newest state once it recovers instead of a
backlog.

Why rounds instead of reacting to every state change: :class:`~.state.SimVehicle` evolves
lazily from the clock, so "did it change" can only be asked at some instant. Rounds run every
``config.webhook_interval_s`` on ``config.sleep`` once a webhook exists (never before, so a
simulator nobody subscribes to stays idle), or on demand: ``await engine.tick()`` and
``POST /_sim/webhooks/tick`` run one round to completion, which is how tests and benchmarks
drive it without real time. Subscribing and raising a vehicle error start a round at once,
so FIRST_DELIVERY and VEHICLE_ERROR go out promptly.

Every body is compact JSON signed with ``SC-Signature`` = lowercase hex HMAC-SHA256 of the raw
bytes keyed with the Application Management Token (``config.management_token``); compact, so
receivers that re-serialise the parsed body (``JSON.stringify``) still verify.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from aiohttp import web

from app.integrations.smartcar.simulator.core import SimulatorState
from app.integrations.smartcar.simulator.errors import CATALOG
from app.integrations.smartcar.simulator.v3_model import Subscription, Webhook
from app.integrations.smartcar.simulator.v3_signals import (
    SignalValue,
    evaluate,
    flat_signal,
    moved_m,
    oem_updated_at,
    vehicle_attributes,
)
from app.integrations.smartcar.webhooks import sign

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 15.0
MAX_IN_FLIGHT = 16
LOCATION_EPSILON_M = 5.0
PAYLOAD_VERSION = "4.0"
USER_AGENT = "Smartcar/sim"
_LOCATION = "location-preciselocation"
_DOCS = "https://smartcar.com/docs/errors/api-errors/"

EventKind = Literal["VEHICLE_STATE", "VEHICLE_ERROR"]


def compact(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class _Event:
    """One event to deliver; kept across attempts so retries reuse ``eventId``."""

    kind: EventKind
    webhook_id: str
    url: str
    body: dict[str, Any]
    subscription_id: str | None = None
    snapshot: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    due_at: float = 0.0


@dataclass
class DeliveryStats:
    """Counters behind ``GET /_sim/webhooks/stats``: attempts that succeeded (``sent``),
    attempts that failed (``failed``), attempts that were retries (``retried``) and events
    dropped after the last retry (``gave_up``)."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    gave_up: int = 0
    verified: int = 0

    def as_json(self, pending: int) -> dict[str, int]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "retried": self.retried,
            "gave_up": self.gave_up,
            "verified": self.verified,
            "pending": pending,
        }


class WebhookEngine:
    """Delivers the simulator's webhook events with its own ``httpx.AsyncClient``."""

    def __init__(self, sim: SimulatorState) -> None:
        self.sim = sim
        self.stats = DeliveryStats()
        #: vehicle id -> catalogued (type, code) injected with ``/_sim/vehicles/{vin}/error``
        self.vehicle_errors: dict[str, tuple[str, str | None]] = {}
        self._pending: list[_Event] = []
        self._client: httpx.AsyncClient | None = None
        self._round = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        self._kicks: set[asyncio.Task[Any]] = set()
        self._stopped = False

    # -- lifecycle --------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=DELIVERY_TIMEOUT_S,
                follow_redirects=False,  # a 3xx counts as a failure, as in the cloud
                limits=httpx.Limits(max_connections=MAX_IN_FLIGHT),
            )
        return self._client

    def ensure_running(self) -> None:
        """Start the periodic rounds (once a webhook exists; 0 s interval = manual only)."""
        if self._stopped or self._loop_task is not None or self.sim.config.webhook_interval_s <= 0:
            return
        self._loop_task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopped = True
        tasks = [t for t in (self._loop_task, *self._kicks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            await self.sim.config.sleep(self.sim.config.webhook_interval_s)
            try:
                await self.tick()
            except Exception:
                logger.exception("webhook round failed")
            await asyncio.sleep(0)  # a fake sleep that returns at once must not starve the loop

    def kick(self) -> None:
        """Run a round soon, in the background (FIRST_DELIVERY, VEHICLE_ERROR)."""
        if self._stopped:
            return
        task = asyncio.get_running_loop().create_task(self.tick())
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)

    # -- rounds -------------------------------------------------------------------------

    async def tick(self) -> dict[str, int]:
        """One complete round: queue changed/first states, deliver every due event."""
        async with self._round:
            self._queue_states()
            now = self.sim.clock()
            due = [e for e in self._pending if e.due_at <= now]
            gate = asyncio.Semaphore(MAX_IN_FLIGHT)

            async def bounded(event: _Event) -> None:
                async with gate:
                    await self._attempt(event)

            await asyncio.gather(*(bounded(e) for e in due))
            return self.stats_json()

    def stats_json(self) -> dict[str, int]:
        return self.stats.as_json(len(self._pending))

    def _queue_states(self) -> None:
        store = self.sim.v3
        now = self.sim.clock()
        busy = {e.subscription_id for e in self._pending if e.kind == "VEHICLE_STATE"}
        for sub in list(store.subscriptions.values()):
            webhook = store.webhooks.get(sub.webhook_id)
            if sub.id in busy or sub.vehicle_id in self.vehicle_errors:
                continue
            if webhook is None or not webhook.enabled:
                continue
            event = self._state_event(sub, webhook, now)
            if event is not None:
                self._pending.append(event)

    def _state_event(self, sub: Subscription, webhook: Webhook, now: float) -> _Event | None:
        conn = self.sim.v3.connection_for(sub.user_id, sub.vehicle_id)
        vehicle = self.sim.vehicles.get(sub.vehicle_id)
        if conn is None or vehicle is None:
            return None
        vehicle.advance(now)
        triggers = {ref.code: evaluate(vehicle, ref.code, conn.scopes) for ref in webhook.triggers}
        snapshot = {code: _comparable(value) for code, value in triggers.items()}
        if not sub.first_delivered:
            fired = [("FIRST_DELIVERY", v) for v in triggers.values()]
        else:
            fired = [
                ("SIGNAL_UPDATED", v)
                for code, v in triggers.items()
                if _changed(code, sub.last_triggers.get(code), snapshot[code])
            ]
        if not fired:
            return None
        oem_at = oem_updated_at(vehicle, now)
        signals = [
            flat_signal(evaluate(vehicle, ref.code, conn.scopes), now, oem_at)
            for ref in webhook.data
        ]
        body = {
            "eventId": str(uuid.uuid4()),
            "eventType": "VEHICLE_STATE",
            "data": {
                "user": {"id": sub.user_id},
                "vehicle": {"id": vehicle.vehicle_id, **vehicle_attributes(vehicle)},
                "signals": signals,
            },
            "triggers": [{"type": kind, "signal": v.ref.as_json()} for kind, v in fired],
            "meta": {
                "version": PAYLOAD_VERSION,
                "webhookId": webhook.id,
                "webhookName": webhook.name,
                "signalCount": len(signals),
                "mode": "TEST",
            },
        }
        return _Event(
            "VEHICLE_STATE", webhook.id, webhook.callback_uri, body, sub.id, snapshot, due_at=now
        )

    async def _attempt(self, event: _Event) -> None:
        store = self.sim.v3
        webhook = store.webhooks.get(event.webhook_id)
        sub = store.subscriptions.get(event.subscription_id) if event.subscription_id else None
        if webhook is None or (event.kind == "VEHICLE_STATE" and sub is None):
            self._pending.remove(event)  # unsubscribed (or user removed) meanwhile
            return
        if event.attempts:
            self.stats.retried += 1
        event.attempts += 1
        meta = event.body["meta"]
        meta["deliveryId"] = str(uuid.uuid4())
        meta["deliveredAt"] = int(self.sim.clock() * 1000)
        problem = await self._post(event.url, event.body)
        if problem is None:
            self.stats.sent += 1
            self._finish(event, sub)
            return
        self.stats.failed += 1
        delays = self.sim.config.webhook_retry_delays_s
        if event.attempts > len(delays):
            self.stats.gave_up += 1
            logger.warning(
                "webhook %s: gave up %s event %s to %s after %d attempts (%s)",
                webhook.id,
                event.kind,
                event.body["eventId"],
                event.url,
                event.attempts,
                problem,
            )
            self._finish(event, sub)
            return
        delay = delays[event.attempts - 1]
        event.due_at = self.sim.clock() + delay
        logger.warning(
            "webhook %s: %s delivery to %s failed (%s); retry %d in %g s",
            webhook.id,
            event.kind,
            event.url,
            problem,
            event.attempts,
            delay,
        )

    def _finish(self, event: _Event, sub: Subscription | None) -> None:
        """Done with an event (delivered or given up): a given-up state still counts as
        sent for change detection, or every round would resend it."""
        self._pending.remove(event)
        if sub is not None and event.kind == "VEHICLE_STATE":
            sub.first_delivered = True
            sub.last_triggers = event.snapshot

    async def _send_signed(self, url: str, body: dict[str, Any]) -> httpx.Response:
        """POST ``body`` as compact JSON signed with the AMT, as Smartcar does."""
        raw = compact(body)
        headers = {
            "Content-Type": "application/json",
            "SC-Signature": sign(self.sim.config.management_token, raw),
            "User-Agent": USER_AGENT,
        }
        return await self._http().post(url, content=raw, headers=headers)

    async def _post(self, url: str, body: dict[str, Any]) -> str | None:
        """Deliver one signed body; None on any 2xx, else what went wrong."""
        try:
            response = await self._send_signed(url, body)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    # -- VERIFY ------------------------------------------------------------------------

    async def verify(self, webhook_id: str, name: str, url: str) -> str | None:
        """Send the VERIFY challenge; None when the receiver answered 200
        ``{"challenge": hex HMAC-SHA256(AMT, challenge)}``, else why not."""
        challenge = secrets.token_hex(16)
        body = {
            "eventId": str(uuid.uuid4()),
            "eventType": "VERIFY",
            "data": {"challenge": challenge},
            "meta": {
                "version": PAYLOAD_VERSION,
                "webhookId": webhook_id,
                "webhookName": name,
                "deliveryId": str(uuid.uuid4()),
                "deliveredAt": int(self.sim.clock() * 1000),
            },
        }
        try:
            response = await self._send_signed(url, body)
        except httpx.HTTPError as exc:
            return f"the callback could not be reached ({type(exc).__name__})"
        if response.status_code != 200:
            return f"the callback answered HTTP {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            return "the callback did not answer JSON"
        expected = sign(self.sim.config.management_token, challenge.encode())
        got = answer.get("challenge") if isinstance(answer, dict) else None
        if not isinstance(got, str) or not hmac.compare_digest(got.lower(), expected):
            return "the callback answered a wrong challenge hash"
        self.stats.verified += 1
        return None

    # -- VEHICLE_ERROR -----------------------------------------------------------------

    def set_vehicle_error(self, vehicle_id: str, error: tuple[str, str | None] | None) -> int:
        """Raise (or, with None, resolve) a vehicle-level error: queue VEHICLE_ERROR to every
        webhook the vehicle is subscribed to; answers how many were queued. While an error is
        set, the vehicle's VEHICLE_STATE deliveries pause."""
        if error is None:
            previous = self.vehicle_errors.pop(vehicle_id, None)
            if previous is None:
                return 0
            error, state = previous, "RESOLVED"
        else:
            self.vehicle_errors[vehicle_id] = error
            state = "ERROR"
        vehicle = self.sim.vehicles[vehicle_id]
        queued = 0
        for sub in self.sim.v3.list_subscriptions(vehicle_id=vehicle_id):
            webhook = self.sim.v3.webhooks.get(sub.webhook_id)
            if webhook is None:
                continue
            body = {
                "eventId": str(uuid.uuid4()),
                "eventType": "VEHICLE_ERROR",
                "data": {
                    "user": {"id": sub.user_id},
                    "vehicle": {"id": vehicle_id, **vehicle_attributes(vehicle)},
                    "errors": [_error_entry(*error, state)],
                },
                "meta": {
                    "version": PAYLOAD_VERSION,
                    "webhookId": webhook.id,
                    "webhookName": webhook.name,
                },
            }
            url = webhook.error_callback_uri or webhook.callback_uri
            self._pending.append(
                _Event("VEHICLE_ERROR", webhook.id, url, body, due_at=self.sim.clock())
            )
            queued += 1
        return queued


def _comparable(value: SignalValue) -> Any:
    return value.body if value.error is None else {"error": list(value.error)}


def _changed(code: str, old: Any, new: Any) -> bool:
    if old == new:
        return False
    if (
        code == _LOCATION
        and isinstance(old, dict)
        and isinstance(new, dict)
        and "latitude" in old
        and "latitude" in new
    ):
        return moved_m(old, new) > LOCATION_EPSILON_M
    return True


def _error_entry(type_: str, code: str | None, state: str) -> dict[str, Any]:
    kind = CATALOG[(type_, code)]
    fragment = (code or "null").lower().replace("_", "-")
    page = type_.lower().replace("_", "-") + "-errors"
    return {
        "type": kind.type,
        "code": kind.code,
        "description": kind.description,
        "docURL": f"{_DOCS}{page}#{fragment}",
        "resolution": {"type": kind.resolution},
        "suggestedUserMessage": "Your car is temporarily unable to share its data.",
        "state": state,
    }


WEBHOOKS_KEY = web.AppKey("sim_webhooks", WebhookEngine)
