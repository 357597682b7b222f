"""The webhook worker of the process that stores telemetry (standalone console, collector).

:meth:`WebhookRuntime.run`, spawned once under the supervisor:

1. binds the receiver (a port in use raises: the supervisor shows it and retries);
2. demo mode only: registers the receiver's URL as a webhook with the simulator (the real
   Smartcar makes webhooks in its Dashboard; ``smartcar.webhooks.webhook_id`` names it);
3. moves v2.0 connections to V3 (:mod:`app.services.connections.v3_move`);
4. then every few minutes subscribes every V3 connection that is not (new, failed) and
   forgets event ids older than Smartcar's seven-day retry horizon.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.config import WebhookSettings
from app.integrations.smartcar.errors import SmartcarError
from app.integrations.smartcar.webhook_receiver import ReceiverConfig, Refusal, WebhookReceiver
from app.models.database import Database
from app.models.webhook_events import KEEP_DAYS, prune
from app.services.connections.backends import Backends
from app.services.connections.service import ConnectionService
from app.services.connections.v3_move import move_to_v3
from app.services.webhooks.ingest import WebhookIngest

logger = logging.getLogger(__name__)

RECONCILE_EVERY_S = 300.0
DEMO_WEBHOOK_NAME = "Fleet Console demo"


#: Answers that acknowledge a delivery; every other outcome is a refusal.
ACCEPTED = frozenset({"stored", "duplicate", "ignored", "verified"})


@dataclass(frozen=True)
class ReceiverStatus:
    """What the Connections window says about the receiver. ``url`` is None while it is
    not listening (starting, or failed and waiting for the supervisor's restart)."""

    url: str | None
    webhook_id: str | None
    counts: dict[str, int] = field(default_factory=dict)
    last_refusal: Refusal | None = None

    @property
    def refused(self) -> int:
        return sum(n for outcome, n in self.counts.items() if outcome not in ACCEPTED)


class WebhookRuntime:
    """Owns the receiver; ``receiver`` is None until :meth:`run` has bound it."""

    def __init__(
        self,
        settings: WebhookSettings,
        backends: Backends,
        connections: ConnectionService,
        database: Database,
        ingest: WebhookIngest,
        *,
        demo: bool,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._backends = backends
        self._connections = connections
        self._db = database
        self.ingest = ingest
        self._demo = demo
        self._clock = clock
        self.receiver: WebhookReceiver | None = None
        self._port: int | None = None  # kept across restarts: the webhook points at it

    @property
    def url(self) -> str | None:
        return self.receiver.url if self.receiver is not None else None

    def status(self) -> ReceiverStatus:
        receiver = self.receiver
        webhook_id = self._backends.webhook_id
        if receiver is None:
            return ReceiverStatus(None, webhook_id)
        return ReceiverStatus(
            receiver.url, webhook_id, dict(receiver.counts), receiver.last_refusal
        )

    async def run(self) -> None:
        key = self._backends.management_token
        assert key is not None  # built only with one (bootstrap)
        port = self._port or (0 if self._demo else self._settings.listen_port)
        receiver = WebhookReceiver(
            ReceiverConfig(
                host=self._settings.listen_host,
                port=port,
                path=self._settings.path,
                max_age_s=float(self._settings.max_age_s),
            ),
            key,
            self.ingest,
        )
        url = await receiver.start()
        self._port = receiver.port
        self.receiver = receiver
        try:
            if self._demo:
                await self._register_demo_webhook(url)
            if self._backends.webhook_id is None:
                logger.warning(
                    "Smartcar webhooks: no webhook id set (smartcar.webhooks.webhook_id); "
                    "cars are not subscribed and are polled instead"
                )
            await move_to_v3(self._connections, self._db)
            while True:
                await self._connections.subscriptions.reconcile()
                before = self._clock() - timedelta(days=KEEP_DAYS)
                await self._db.run(prune, self._db, before)
                await asyncio.sleep(RECONCILE_EVERY_S)
        finally:
            self.receiver = None
            await receiver.stop()

    async def _register_demo_webhook(self, url: str) -> None:
        client = self._backends.smartcar
        if client is None or self._backends.webhook_id is not None:
            return
        try:
            webhook = await client.v3.create_webhook(DEMO_WEBHOOK_NAME, url)
        except SmartcarError as exc:
            logger.warning("demo: the simulator did not accept the webhook: %s", exc)
            return
        self._backends.webhook_id = webhook.id
        logger.info("demo: webhook %s delivers to %s", webhook.id, url)
