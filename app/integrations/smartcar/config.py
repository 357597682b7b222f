"""Where Smartcar lives and who we are to it.

Origins default to production; demo mode and tests point all three at the local simulator.
The env-var names mirror the official python SDK's so one set of variables configures both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SmartcarOrigins:
    """Connect (browser pages), the token endpoint (a full URL) and the API origin."""

    connect: str = "https://connect.smartcar.com"
    token_url: str = "https://auth.smartcar.com/oauth/token"
    api: str = "https://api.smartcar.com"

    @classmethod
    def for_simulator(cls, base_url: str) -> SmartcarOrigins:
        base = base_url.rstrip("/")
        return cls(connect=base, token_url=f"{base}/oauth/token", api=base)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SmartcarOrigins:
        """``SMARTCAR_CONNECT_ORIGIN``, ``SMARTCAR_AUTH_ORIGIN`` (full token URL, as in the
        python SDK) and ``SMARTCAR_API_ORIGIN``; unset ones keep the production default."""
        default = cls()
        return cls(
            connect=env.get("SMARTCAR_CONNECT_ORIGIN", default.connect).rstrip("/"),
            token_url=env.get("SMARTCAR_AUTH_ORIGIN", default.token_url),
            api=env.get("SMARTCAR_API_ORIGIN", default.api).rstrip("/"),
        )


@dataclass(frozen=True)
class SmartcarCredentials:
    """The application's identity; the secret is excluded from ``repr`` so logs stay clean."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
