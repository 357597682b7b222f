"""The application-wide Smartcar rate limit, shared by every request of one client.

Smartcar limits requests per vehicle (``RATE_LIMIT:VEHICLE``) and per application
(``RATE_LIMIT:SMARTCAR_API``). The first is the car's own business; the second means the
whole application must stop sending until ``Retry-After`` has passed, whichever car or
operator action the next request is for. Sending on regardless (other cars, "Refresh now",
commands) only burns the window and earns longer ones, so the gate refuses those requests
locally with the same typed error Smartcar would have sent, and the cron reads
:meth:`AppRateGate.paused_until` to stop scheduling until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from app.integrations.smartcar.errors import RateLimitError, Resolution, SmartcarError

logger = logging.getLogger(__name__)

APP_WIDE_CODE = "SMARTCAR_API"
#: A 429 SMARTCAR_API without Retry-After: Smartcar's documented advice is "a few minutes".
DEFAULT_PAUSE_S = 300.0


def is_app_wide(error: SmartcarError) -> bool:
    return isinstance(error, RateLimitError) and error.code == APP_WIDE_CODE


class AppRateGate:
    """Knows until when the application is paused; clock in epoch seconds (injectable)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._until = 0.0

    def hold(self, error: SmartcarError) -> None:
        """An app-wide 429 came back: pause until its Retry-After (extends, never shortens)."""
        if not is_app_wide(error):
            return
        assert isinstance(error, RateLimitError)
        wait = float(error.retry_after) if error.retry_after is not None else DEFAULT_PAUSE_S
        until = self.clock() + wait
        if until > self._until:
            self._until = until
            logger.warning("Smartcar app-wide rate limit: every request paused for %.0f s", wait)

    def paused_until(self) -> float | None:
        """Epoch seconds when requests may resume, or None when not paused."""
        return self._until if self._until > self.clock() else None

    def check(self) -> None:
        """Raise the app-wide RateLimitError locally while paused (nothing is sent)."""
        until = self.paused_until()
        if until is None:
            return
        raise RateLimitError(
            status=429,
            type="RATE_LIMIT",
            code=APP_WIDE_CODE,
            description="paused here until Smartcar's application-wide rate limit window ends",
            request_id=None,
            resolution=Resolution("RETRY_LATER"),
            retry_after=max(1, round(until - self.clock())),
        )
