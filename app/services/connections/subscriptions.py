"""Each V3 connection's webhook subscription, kept in step with the connection.

A connected car is subscribed to the application's webhook through the Management API
(Smartcar answers 202 and sends a ``FIRST_DELIVERY`` with every configured signal), and
unsubscribed when it is disconnected. The state is stored on the connection so the
Connections window can show it: ``pending`` while asked, ``subscribed``, or ``failed``
with the reason; :meth:`WebhookSubscriptions.reconcile` retries the failed and the never
asked (cars linked while the Management API was down, or before webhooks were set up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.integrations.smartcar.client import SmartcarClient
from app.integrations.smartcar.errors import SmartcarApiError, SmartcarError
from app.models.connections import ConnectionRecord, ConnectionRepository
from app.models.database import Database

logger = logging.getLogger(__name__)

PENDING, SUBSCRIBED, FAILED = "pending", "subscribed", "failed"


def _reason(exc: SmartcarError) -> str:
    if isinstance(exc, SmartcarApiError):
        return f"{exc.type}:{exc.code or ''} {exc.description}".strip()
    return str(exc) or type(exc).__name__


class WebhookSubscriptions:
    """Subscribe / unsubscribe V3 connections; ``webhook_id()`` None = webhooks are off."""

    def __init__(
        self,
        database: Database,
        repository: ConnectionRepository,
        client: Callable[[], SmartcarClient | None],
        webhook_id: Callable[[], str | None],
        notify: Callable[[int], None],
    ) -> None:
        self._db = database
        self._repo = repository
        self._client = client
        self._webhook_id = webhook_id
        self._notify = notify

    @property
    def enabled(self) -> bool:
        client = self._client()
        return self._webhook_id() is not None and client is not None and client.api_version == "3"

    async def subscribe(self, record: ConnectionRecord) -> bool:
        """True when Smartcar accepted the subscription; a failure is stored, not raised."""
        client, webhook_id = self._client(), self._webhook_id()
        if client is None or webhook_id is None or not record.v3:
            return False
        await self._db.run(self._repo.set_webhook, record.id, PENDING)
        try:
            await client.v3.subscribe(webhook_id, record.smartcar_vehicle_id)
        except SmartcarApiError as exc:
            if exc.status == 409:  # already subscribed: what we wanted
                logger.info("connection %d: webhook subscription already exists", record.id)
            else:
                return await self._failed(record, exc)
        except SmartcarError as exc:
            return await self._failed(record, exc)
        await self._db.run(self._repo.set_webhook, record.id, SUBSCRIBED)
        logger.info("connection %d subscribed to webhook %s", record.id, webhook_id)
        self._notify(record.vehicle_id)
        return True

    async def _failed(self, record: ConnectionRecord, exc: SmartcarError) -> bool:
        reason = _reason(exc)
        logger.warning("connection %d: webhook subscription failed: %s", record.id, reason)
        await self._db.run(self._repo.set_webhook, record.id, FAILED, reason[:300])
        self._notify(record.vehicle_id)
        return False

    async def unsubscribe(self, record: ConnectionRecord) -> None:
        """Best effort: a car that stays subscribed only sends deliveries we ignore."""
        client, webhook_id = self._client(), self._webhook_id()
        if client is None or webhook_id is None or not record.v3 or not record.webhook_state:
            return
        try:
            await client.v3.unsubscribe(webhook_id, record.smartcar_vehicle_id)
        except SmartcarError as exc:
            logger.warning("connection %d: unsubscribing failed: %s", record.id, _reason(exc))
        await self._db.run(self._repo.set_webhook, record.id, "")

    async def reconcile(self) -> int:
        """Subscribe every live V3 connection that is not; returns how many now are."""
        if not self.enabled:
            return 0
        done = 0
        for record in await self._db.run(self._repo.live_v3):
            if record.webhook_state != SUBSCRIBED and await self.subscribe(record):
                done += 1
        return done
