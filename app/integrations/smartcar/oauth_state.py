"""Single-use OAuth ``state`` values, so a Connect callback is accepted once and only if we
started it (CSRF protection; also how the app knows which fleet vehicle is being connected)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from app.integrations.smartcar.errors import OAuthStateError

STATE_TTL_S = 1800.0


class OAuthStateManager:
    """Issues random states bound to a caller context; ``consume`` accepts each once."""

    def __init__(
        self, ttl_s: float = STATE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._pending: dict[str, tuple[object, float]] = {}

    def issue(self, context: object = None) -> str:
        self._drop_expired()
        state = secrets.token_urlsafe(32)
        self._pending[state] = (context, self._clock() + self._ttl)
        return state

    def consume(self, state: str) -> object:
        """The context given to ``issue``; raises OAuthStateError for unknown/used/expired."""
        entry = self._pending.pop(state, None) if state else None
        if entry is None:
            raise OAuthStateError("Connect answered with an unknown or already used state.")
        context, expires_at = entry
        if expires_at <= self._clock():
            raise OAuthStateError("The Connect session expired; start the connection again.")
        return context

    def _drop_expired(self) -> None:
        now = self._clock()
        for state in [s for s, (_, exp) in self._pending.items() if exp <= now]:
            del self._pending[state]
