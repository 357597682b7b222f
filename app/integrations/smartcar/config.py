"""Where Smartcar lives and who we are to it.

Origins default to production; demo mode and tests point all three at the local simulator.
The env-var names mirror the official python SDK's so one set of variables configures both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ApiVersion = Literal["2.0", "3"]


@dataclass(frozen=True)
class SmartcarOrigins:
    """Connect (browser pages), the v2.0 token endpoint (a full URL) and API origin, and
    the V3 ones: the application-token endpoint, the Vehicle API and the Management API.

    The V3 hosts differ from v2.0's in production; the simulator serves all of them on
    one origin (its paths do not collide).
    """

    connect: str = "https://connect.smartcar.com"
    token_url: str = "https://auth.smartcar.com/oauth/token"
    api: str = "https://api.smartcar.com"
    iam_token_url: str = "https://iam.smartcar.com/oauth2/token"
    vehicle_api: str = "https://vehicle.api.smartcar.com"
    management_api: str = "https://management.api.smartcar.com"

    @classmethod
    def for_simulator(cls, base_url: str) -> SmartcarOrigins:
        base = base_url.rstrip("/")
        return cls(
            connect=base,
            token_url=f"{base}/oauth/token",
            api=base,
            iam_token_url=f"{base}/oauth2/token",
            vehicle_api=base,
            management_api=base,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SmartcarOrigins:
        """``SMARTCAR_CONNECT_ORIGIN``, ``SMARTCAR_AUTH_ORIGIN`` (full token URL, as in the
        python SDK), ``SMARTCAR_API_ORIGIN`` and ``SMARTCAR_VEHICLE_API_V3_ORIGIN`` (the SDK's
        names), plus our own ``SMARTCAR_IAM_TOKEN_URL`` and
        ``SMARTCAR_MANAGEMENT_API_V3_ORIGIN``; unset ones keep the production default."""
        default = cls()
        return cls(
            connect=env.get("SMARTCAR_CONNECT_ORIGIN", default.connect).rstrip("/"),
            token_url=env.get("SMARTCAR_AUTH_ORIGIN", default.token_url),
            api=env.get("SMARTCAR_API_ORIGIN", default.api).rstrip("/"),
            iam_token_url=env.get("SMARTCAR_IAM_TOKEN_URL", default.iam_token_url),
            vehicle_api=env.get("SMARTCAR_VEHICLE_API_V3_ORIGIN", default.vehicle_api).rstrip("/"),
            management_api=env.get(
                "SMARTCAR_MANAGEMENT_API_V3_ORIGIN", default.management_api
            ).rstrip("/"),
        )


@dataclass(frozen=True)
class SmartcarCredentials:
    """The application's identity; the secret is excluded from ``repr`` so logs stay clean."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    #: V3 Connect wants the application id, not the ``client_...`` credential id.
    application_id: str = ""
