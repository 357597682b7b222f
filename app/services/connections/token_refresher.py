"""The background job that renews Smartcar access tokens before they expire.

Smartcar recommends refreshing close to expiry in the background rather than on first use
(product.md 2d): a poll then never waits on the token endpoint, and a lapsed grant turns
Expired on the panel before anyone tries to rent the car.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.models.enums import ConnectionStatus
from app.services.connections.service import ConnectionService
from app.services.connections.tokens import ConnectionProblem, ReconnectNeeded

logger = logging.getLogger(__name__)

#: Connections worth renewing: Error ones too (a refresh that failed on a network blip).
RENEWABLE = (ConnectionStatus.ACTIVE.value, ConnectionStatus.ERROR.value)


@dataclass(frozen=True)
class RefreshRound:
    checked: int
    refreshed: int
    expired: int
    failed: int


class TokenRefresher:
    """``await run_forever()`` under the app's TaskOwner; ``run_once()`` for tests."""

    def __init__(
        self,
        service: ConnectionService,
        *,
        interval_s: float = 60.0,
        lead: timedelta = timedelta(minutes=10),
        concurrency: int = 8,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._interval = interval_s
        self._lead = lead
        self._concurrency = concurrency
        self._clock = clock

    async def run_once(self) -> RefreshRound:
        records = await self._service.connections_with_tokens(RENEWABLE)
        horizon = self._clock() + self._lead
        due = [r for r in records if r.access_expires_at is None or r.access_expires_at < horizon]
        gate = asyncio.Semaphore(self._concurrency)

        async def one(connection_id: int) -> str:
            async with gate:
                try:
                    await self._service.tokens.access_token(connection_id, lead=self._lead)
                except ReconnectNeeded:
                    return "expired"
                except ConnectionProblem as exc:
                    logger.warning("token refresh of connection %d failed: %s", connection_id, exc)
                    return "failed"
                return "refreshed"

        outcomes = await asyncio.gather(*(one(r.id) for r in due))
        result = RefreshRound(
            len(records),
            outcomes.count("refreshed"),
            outcomes.count("expired"),
            outcomes.count("failed"),
        )
        if due:
            logger.info("token refresh round: %s", result)
        return result

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("token refresh round crashed; retrying next interval")
            await asyncio.sleep(self._interval)
