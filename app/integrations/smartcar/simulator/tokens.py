"""Authorization codes, token pairs and grants held by the simulator's token endpoint.

A *grant* is what the user approved in Connect: which vehicles, which scopes and (for magic
logins) which fault to force. Codes and token pairs point at a grant. Codes are single-use and
live 10 minutes; a refresh token is invalidated the moment it is exchanged (the real service
allows a short grace period, but a strict simulator catches clients that reuse old tokens).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

CODE_TTL_S = 600.0
ACCESS_TTL_S = 7200.0
REFRESH_TTL_S = 60 * 86400.0
APP_TOKEN_TTL_S = 3600.0

_USER_NS = uuid.UUID("0d8a3c2e-5b7f-4f0e-8e21-7c9a1b2d3e4f")


@dataclass
class Grant:
    """What one Connect session authorised; shared by every token pair minted from it."""

    client_id: str
    user_id: str
    vehicle_ids: list[str]
    scopes: frozenset[str]
    fault: tuple[str, str | None] | None = None
    slow: bool = False


@dataclass
class _Code:
    grant: Grant
    redirect_uri: str
    expires_at: float


@dataclass
class _Refresh:
    grant: Grant
    expires_at: float


@dataclass
class TokenPair:
    """Response body for the token endpoint."""

    access_token: str
    refresh_token: str
    expires_in: int = int(ACCESS_TTL_S)

    def as_json(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


class OAuthError(Exception):
    """An OAuth-style failure (``{"error", "error_description"}``) of the token endpoint."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def user_id_for(email: str) -> str:
    """Stable Smartcar user id per login, like the real ``GET /user`` answer."""
    return str(uuid.uuid5(_USER_NS, email.strip().lower()))


@dataclass
class TokenStore:
    """All OAuth artefacts, keyed by their opaque values; ``clock`` returns epoch seconds."""

    clock: Callable[[], float]
    _codes: dict[str, _Code] = field(default_factory=dict)
    _access: dict[str, tuple[Grant, float]] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _app: dict[str, tuple[str, float]] = field(default_factory=dict)

    def issue_code(self, grant: Grant, redirect_uri: str) -> str:
        code = str(uuid.uuid4())
        self._codes[code] = _Code(grant, redirect_uri, self.clock() + CODE_TTL_S)
        return code

    def exchange_code(self, client_id: str, code: str, redirect_uri: str | None) -> TokenPair:
        """Single use: the code is removed before any check so a failed try also burns it."""
        entry = self._codes.pop(code, None)
        if entry is None or entry.expires_at <= self.clock() or entry.grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", f"Invalid code: {code}.")
        if redirect_uri is not None and redirect_uri != entry.redirect_uri:
            raise OAuthError(400, "invalid_grant", f"Unauthorized redirect_uri: {redirect_uri}")
        return self._mint(entry.grant)

    def exchange_refresh(self, client_id: str, refresh_token: str) -> TokenPair:
        entry = self._refresh.pop(refresh_token, None)
        if entry is None or entry.expires_at <= self.clock() or entry.grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", f"Invalid refresh_token: {refresh_token}.")
        return self._mint(entry.grant)

    def issue_app_token(self, client_id: str) -> dict[str, object]:
        token = secrets.token_urlsafe(24)
        self._app[token] = (client_id, self.clock() + APP_TOKEN_TTL_S)
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(APP_TOKEN_TTL_S)}

    def grant_for(self, access_token: str) -> Grant | None:
        entry = self._access.get(access_token)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def app_client_for(self, token: str) -> str | None:
        entry = self._app.get(token)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def expire_all_access_tokens(self) -> int:
        """Control hook: make every access token stale, as if two hours had passed."""
        now = self.clock()
        for token, (grant, _) in self._access.items():
            self._access[token] = (grant, now)
        return len(self._access)

    def expire_all_app_tokens(self) -> int:
        """Control hook: make every client-credentials (V3 application) token stale."""
        now = self.clock()
        for token, (client_id, _) in self._app.items():
            self._app[token] = (client_id, now)
        return len(self._app)

    def _mint(self, grant: Grant) -> TokenPair:
        now = self.clock()
        pair = TokenPair(str(uuid.uuid4()), str(uuid.uuid4()))
        self._access[pair.access_token] = (grant, now + ACCESS_TTL_S)
        self._refresh[pair.refresh_token] = _Refresh(grant, now + REFRESH_TTL_S)
        return pair
