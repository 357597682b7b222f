"""Typed Smartcar failures, so callers branch on classes instead of parsing strings.

Four families: :class:`SmartcarApiError` (the API's v2 error object, one subclass per ``type``),
:class:`OAuthTokenError` (the token endpoint's ``{"error", "error_description"}``),
:class:`ConnectRedirectError` (an ``error`` on the Connect redirect) and the local ones:
:class:`SmartcarTransportError` (no usable HTTP exchange) and :class:`SmartcarProtocolError`
(an answer we cannot trust: wrong content type, bad JSON, missing or mistyped fields).
None of them ever carries a token or the client secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class SmartcarError(Exception):
    """Base class of everything this package raises on purpose."""


class SmartcarTransportError(SmartcarError):
    """The request did not complete (connection refused, reset, TLS, ...)."""


class SmartcarTimeoutError(SmartcarTransportError):
    """No answer within the configured timeout; the vehicle may still act on a command."""


class SmartcarProtocolError(SmartcarError):
    """A response that does not match the documented shape; ``excerpt`` is for logs."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.request_id = request_id
        self.excerpt = excerpt[:200]


@dataclass(frozen=True)
class Resolution:
    """What Smartcar suggests doing: ``RETRY_LATER``, ``REAUTHENTICATE``, ... (or None)."""

    type: str | None = None
    url: str | None = None


class SmartcarApiError(SmartcarError):
    """The v2 error object. ``status`` is the HTTP status, ``retry_after`` seconds or None."""

    def __init__(
        self,
        *,
        status: int,
        type: str,
        code: str | None,
        description: str,
        request_id: str | None,
        resolution: Resolution = Resolution(),
        retry_after: int | None = None,
        doc_url: str | None = None,
        detail: list[Any] | None = None,
        suggested_user_message: str | None = None,
    ) -> None:
        label = f"{type}:{code}" if code else type
        super().__init__(f"{label} - {description}")
        self.status = status
        self.type = type
        self.code = code
        self.description = description
        self.request_id = request_id
        self.resolution = resolution
        self.retry_after = retry_after
        self.doc_url = doc_url
        self.detail = detail
        self.suggested_user_message = suggested_user_message

    @property
    def needs_reauthentication(self) -> bool:
        return self.resolution.type == "REAUTHENTICATE"


class AuthenticationError(SmartcarApiError):
    """401: token missing, malformed, expired or not valid for this vehicle."""


class PermissionDeniedError(SmartcarApiError):
    """403: the grant lacks the scope; the user must re-run Connect."""


class ValidationError(SmartcarApiError):
    """400 VALIDATION: our request was malformed."""


class ResourceNotFoundError(SmartcarApiError):
    """404: unknown path or API version."""


class RateLimitError(SmartcarApiError):
    """429: app-wide (``SMARTCAR_API``) or per-vehicle (``VEHICLE``, see ``retry_after``)."""


class BillingError(SmartcarApiError):
    """430: plan or quota problem; needs a human with dashboard access."""


class CompatibilityError(SmartcarApiError):
    """501: the car or Smartcar cannot do this (e.g. ``/fuel`` on an EV)."""


class ConnectedServicesAccountError(SmartcarApiError):
    """400 CONNECTED_SERVICES_ACCOUNT: the owner must act in the manufacturer account."""


class ServerError(SmartcarApiError):
    """500 at Smartcar."""


class UpstreamError(SmartcarApiError):
    """502: the manufacturer's cloud failed."""


class VehicleStateError(SmartcarApiError):
    """409: asleep, door open, in motion, ..."""


API_ERROR_CLASSES: dict[str, type[SmartcarApiError]] = {
    "AUTHENTICATION": AuthenticationError,
    "PERMISSION": PermissionDeniedError,
    "VALIDATION": ValidationError,
    "RESOURCE_NOT_FOUND": ResourceNotFoundError,
    "RATE_LIMIT": RateLimitError,
    "BILLING": BillingError,
    "COMPATIBILITY": CompatibilityError,
    "CONNECTED_SERVICES_ACCOUNT": ConnectedServicesAccountError,
    "SERVER": ServerError,
    "UPSTREAM": UpstreamError,
    "VEHICLE_STATE": VehicleStateError,
}


class OAuthTokenError(SmartcarError):
    """The token endpoint refused: ``invalid_grant`` (bad/used code or refresh token),
    ``invalid_client`` (wrong id/secret), ..."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


class ApplicationCredentialsError(SmartcarError):
    """V3: Smartcar refused the application itself (its token, client id or secret), so
    every car fails alike; the operator must fix the settings, no owner can help."""


class OAuthStateError(SmartcarError):
    """The Connect callback's ``state`` was never issued, already used or expired."""


class TokenPersistError(SmartcarError):
    """Refreshed tokens could not be stored; the new pair is kept in memory only."""


class ConnectRedirectError(SmartcarError):
    """Connect came back with ``error=...``; ``operator_message`` is fit for the console."""

    def __init__(
        self, error: str, description: str, operator_message: str, extra: dict[str, str]
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.operator_message = operator_message
        self.extra = extra
