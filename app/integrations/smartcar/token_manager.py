"""Keeps one user's token pair fresh and persisted.

Smartcar rotates refresh tokens and invalidates the old one shortly after use, so two tasks
refreshing at once, or a crash between refresh and save, would lock the user out. Hence:
one lock per manager (single flight), and the new pair is handed to the async ``persist``
callback before any caller sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from app.integrations.smartcar.auth import SmartcarAuth, TokenSet
from app.integrations.smartcar.errors import TokenPersistError

logger = logging.getLogger(__name__)

PersistTokens = Callable[[TokenSet], Awaitable[None]]


class TokenManager:
    """``await manager.access_token()`` returns a token valid for at least ``margin``."""

    def __init__(
        self,
        auth: SmartcarAuth,
        tokens: TokenSet,
        persist: PersistTokens,
        *,
        margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._auth = auth
        self._tokens = tokens
        self._persist = persist
        self._margin = margin
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> TokenSet:
        return self._tokens

    async def access_token(self) -> str:
        if self._tokens.access_valid(self._clock(), self._margin):
            return self._tokens.access_token
        return (await self.refresh(stale=self._tokens)).access_token

    async def refresh(self, stale: TokenSet | None = None) -> TokenSet:
        """Refresh once; callers that waited on the lock reuse the pair just obtained.

        ``stale`` is the pair the caller saw fail (e.g. after a 401); if another task already
        replaced it, no second refresh is made with a refresh token that is now dead.
        """
        async with self._lock:
            if stale is not None and self._tokens is not stale:
                return self._tokens
            fresh = await self._auth.refresh(self._tokens.refresh_token)
            try:
                await self._persist(fresh)
            except Exception as exc:
                # The old refresh token is dead either way: keep the new pair in memory.
                self._tokens = fresh
                logger.error("could not persist refreshed Smartcar tokens: %s", type(exc).__name__)
                raise TokenPersistError("refreshed tokens could not be saved") from exc
            self._tokens = fresh
            return fresh
