"""The V3 application access token: one per application, by client credentials.

V3 has no per-vehicle tokens and no refresh token: the application asks
``iam.smartcar.com/oauth2/token`` for a one-hour bearer token with its client id and secret,
and asks again before it runs out. Every Vehicle API and Management API call of every car
uses that one token, so a fleet of a thousand cars polled at once must not send a thousand
token requests: the first caller fetches, everybody else awaits the same answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from app.integrations.smartcar.config import SmartcarCredentials
from app.integrations.smartcar.errors import (
    ApplicationCredentialsError,
    OAuthTokenError,
    SmartcarProtocolError,
)
from app.integrations.smartcar.transport import HttpTransport, decode_json
from app.integrations.smartcar.wire import obj, req_text

logger = logging.getLogger(__name__)

#: Renew this long before the token's end, so a request sent at the last moment (and held
#: by Smartcar for minutes while it reaches a car) still carries a valid token.
RENEW_BEFORE_S = 300.0
#: Shortest lifetime we trust; a smaller ``expires_in`` is treated as this.
MIN_LIFETIME_S = 60.0


class AppTokenSource:
    """``await source.token()``: a cached application token, renewed before expiry.

    ``invalidate(token)`` after a 401 drops it (unless a newer one replaced it meanwhile),
    so the next ``token()`` fetches a fresh one; concurrent callers share one request.
    """

    def __init__(
        self,
        token_url: str,
        credentials: SmartcarCredentials,
        transport: HttpTransport,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = token_url
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._token: tuple[str, float] | None = None  # (token, renew at)
        self._pending: asyncio.Future[str] | None = None
        self.fetches = 0  # how many token requests were sent (tests, the status view)

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._token[1]:
            return self._token[0]
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._fetch())
            self._pending.add_done_callback(self._clear_pending)
        return await asyncio.shield(self._pending)

    def invalidate(self, token: str) -> None:
        if self._token is not None and self._token[0] == token:
            self._token = None

    def _clear_pending(self, future: asyncio.Future[str]) -> None:
        self._pending = None
        if not future.cancelled():
            future.exception()  # retrieved here: every waiter got it already

    async def _fetch(self) -> str:
        self.fetches += 1
        response = await self._transport.send(
            "POST",
            self._url,
            data={
                "grant_type": "client_credentials",
                "client_id": self._credentials.client_id,
                "client_secret": self._credentials.client_secret,
            },
        )
        body = decode_json(response)
        if not response.is_success:
            raise _token_error(response.status_code, body)
        data = obj(body, "token response")
        token = req_text(data, "access_token")
        token_type = data.get("token_type", "Bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise SmartcarProtocolError("token response: token_type is not Bearer")
        lifetime = data.get("expires_in", 3600)
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise SmartcarProtocolError("token response: invalid expires_in")
        lifetime = max(float(lifetime), MIN_LIFETIME_S)
        renew_at = self._clock() + max(lifetime - RENEW_BEFORE_S, lifetime / 2)
        self._token = (token, renew_at)
        logger.info("Smartcar application token obtained (valid %.0f s)", lifetime)
        return token


def _token_error(status: int, body: Any) -> Exception:
    """``invalid_client`` (and any 401) is the application's problem, not one car's."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        text = description if isinstance(description, str) else ""
        if status == 401 or body["error"] == "invalid_client":
            return ApplicationCredentialsError(
                f"Smartcar refused the client id or secret ({body['error']})"
            )
        return OAuthTokenError(status, body["error"], text)
    return SmartcarProtocolError(
        f"token endpoint HTTP {status} without an OAuth error", status=status
    )
