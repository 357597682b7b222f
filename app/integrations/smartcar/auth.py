"""Connect URL, code exchange, refresh and client-credentials tokens (widget-free).

Token lifetimes are fixed by Smartcar (access 2 h, refresh 60 days) and the token response does
not carry the refresh lifetime, so :class:`TokenSet` computes both expiries at receipt time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from app.integrations.smartcar.config import SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.errors import (
    ConnectRedirectError,
    OAuthTokenError,
    SmartcarProtocolError,
)
from app.integrations.smartcar.oauth_state import OAuthStateManager
from app.integrations.smartcar.transport import HttpTransport, decode_json
from app.integrations.smartcar.wire import obj, req_text

ACCESS_LIFETIME = timedelta(hours=2)
REFRESH_LIFETIME = timedelta(days=60)

#: Operator-facing explanations of the Connect redirect errors.
CONNECT_ERROR_MESSAGES = {
    "access_denied": "The owner declined to share the car. Ask them to connect again and allow "
    "every permission.",
    "vehicle_incompatible": "This car is not compatible with Smartcar (needs a 2016+ model with "
    "connected services). Connect it with an IoT device instead.",
    "no_vehicles": "The manufacturer account has no cars. The owner must add the car in the "
    "manufacturer's app first.",
    "invalid_subscription": "The car's connected-services subscription is inactive. The owner must "
    "renew it with the manufacturer.",
    "configuration_error": "Connect could not continue (wrong mode, unknown VIN or a skipped "
    "step). Check the Smartcar settings and try again.",
    "server_error": "Smartcar had a problem during Connect. Try again in a few minutes.",
}


@dataclass(frozen=True)
class TokenSet:
    """An access/refresh pair with absolute expiries; tokens never appear in ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    refresh_expires_at: datetime

    @classmethod
    def from_response(cls, body: Any, now: datetime) -> TokenSet:
        data = obj(body, "token response")
        expires_in = data.get("expires_in", 7200)
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            raise SmartcarProtocolError("token response: invalid expires_in")
        return cls(
            access_token=req_text(data, "access_token"),
            refresh_token=req_text(data, "refresh_token"),
            expires_at=now + timedelta(seconds=expires_in),
            refresh_expires_at=now + REFRESH_LIFETIME,
        )

    def access_valid(self, now: datetime, margin: timedelta = timedelta(0)) -> bool:
        return now + margin < self.expires_at

    def refresh_valid(self, now: datetime) -> bool:
        return now < self.refresh_expires_at


def _checked_params(url: str, states: OAuthStateManager) -> tuple[dict[str, str], object]:
    """The redirect's query after consuming its ``state`` exactly once (checked first, so a
    forged redirect is refused before its error text is trusted); ``error=...`` raises."""
    params = dict(parse_qsl(urlsplit(url).query))
    context = states.consume(params.get("state", ""))
    error = params.get("error")
    if error is not None:
        message = CONNECT_ERROR_MESSAGES.get(error, f"Connect failed ({error}).")
        extra = {
            k: v for k, v in params.items() if k not in ("error", "error_description", "state")
        }
        raise ConnectRedirectError(error, params.get("error_description", ""), message, extra)
    return params, context


def parse_connect_redirect(url: str, states: OAuthStateManager) -> tuple[str, object]:
    """v2.0: ``(code, context)`` from the redirect URL.

    Raises OAuthStateError for a missing/unknown/reused state and ConnectRedirectError for
    ``error=...`` answers or a missing code.
    """
    params, context = _checked_params(url, states)
    code = params.get("code")
    if not code:
        raise ConnectRedirectError("missing_code", "", "Connect returned without a code.", {})
    return code, context


def parse_v3_connect_redirect(url: str, states: OAuthStateManager) -> tuple[str, object]:
    """V3: ``(user_id, context)``. The newest docs send ``user_id`` alone, an older guide
    ``userId`` and older pages a ``code`` beside it; the code is not needed and ignored."""
    params, context = _checked_params(url, states)
    user_id = params.get("user_id") or params.get("userId")
    if not user_id or len(user_id) > 64:
        raise ConnectRedirectError(
            "missing_user_id", "", "Connect returned without a Smartcar user id.", {}
        )
    return user_id, context


def connect_url(
    origins: SmartcarOrigins,
    credentials: SmartcarCredentials,
    scopes: Sequence[str],
    state: str,
    *,
    mode: Literal["live", "simulated"] = "live",
    make: str | None = None,
    single_select_vin: str | None = None,
    approval_prompt: Literal["auto", "force"] = "force",
) -> str:
    """The Connect URL: public parts only (client or application id, redirect URI), so a
    process without the client secret (a shared-mode console) can build it too."""
    params: dict[str, str] = {
        "response_type": "code",
        "client_id": credentials.application_id or credentials.client_id,
        "redirect_uri": credentials.redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
        "mode": mode,
        "approval_prompt": approval_prompt,
    }
    if single_select_vin:
        params |= {"single_select": "true", "single_select_vin": single_select_vin}
    elif make:
        params["make"] = make.upper()
    return f"{origins.connect}/oauth/authorize?{urlencode(params)}"


class SmartcarAuth:
    """OAuth against Smartcar's token endpoint; shares the client's HTTP connections."""

    def __init__(
        self,
        origins: SmartcarOrigins,
        credentials: SmartcarCredentials,
        transport: HttpTransport,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._origins = origins
        self._credentials = credentials
        self._transport = transport
        self._clock = clock
        self._app_token: tuple[str, float] | None = None

    def connect_url(
        self,
        scopes: Sequence[str],
        state: str,
        *,
        mode: Literal["live", "simulated"] = "live",
        make: str | None = None,
        single_select_vin: str | None = None,
        approval_prompt: Literal["auto", "force"] = "force",
    ) -> str:
        """The URL to open in the browser (QtWebEngine view in the app)."""
        return connect_url(
            self._origins,
            self._credentials,
            scopes,
            state,
            mode=mode,
            make=make,
            single_select_vin=single_select_vin,
            approval_prompt=approval_prompt,
        )

    async def exchange_code(self, code: str) -> TokenSet:
        body = await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self._credentials.redirect_uri,
            }
        )
        return TokenSet.from_response(body, self._clock())

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Rotate: the answer holds a NEW refresh token; the old one dies right after use."""
        body = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return TokenSet.from_response(body, self._clock())

    async def app_token(self) -> str:
        """Client-credentials token for the Compatibility API, cached until 60 s before expiry."""
        now = time.monotonic()
        if self._app_token and self._app_token[1] > now:
            return self._app_token[0]
        body = obj(await self._token_request({"grant_type": "client_credentials"}), "token")
        expires_in = body.get("expires_in", 3600)
        lifetime = expires_in if isinstance(expires_in, int) and expires_in > 60 else 120
        token = req_text(body, "access_token")
        self._app_token = (token, now + lifetime - 60)
        return token

    async def _token_request(self, form: dict[str, str]) -> Any:
        response = await self._transport.send(
            "POST",
            self._origins.token_url,
            data=form,
            auth=(self._credentials.client_id, self._credentials.client_secret),
        )
        body = decode_json(response)
        if response.is_success:
            return body
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            description = body.get("error_description")
            raise OAuthTokenError(
                response.status_code,
                body["error"],
                description if isinstance(description, str) else "",
            )
        raise SmartcarProtocolError(
            f"token endpoint HTTP {response.status_code} without an OAuth error",
            status=response.status_code,
        )
