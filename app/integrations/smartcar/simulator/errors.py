"""The Smartcar v2 error catalogue as the simulator serves it.

Every failure the simulator produces goes through :func:`error_body` so the SDKs (which read
``type``, ``code``, ``description``, ``docURL``, ``statusCode``, ``requestId`` and ``resolution``
unconditionally) always find the full object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_DOC = "https://smartcar.com/docs/errors/api-errors/"


@dataclass(frozen=True)
class ErrorKind:
    """One (type, code) pair with its HTTP status, text and resolution."""

    type: str
    code: str | None
    status: int
    description: str
    resolution: str | None = None


_KINDS = [
    ErrorKind(
        "AUTHENTICATION",
        None,
        401,
        "The authorization header is missing or malformed, or it contains invalid or expired "
        "authentication credentials. Please check for missing parameters, spelling and casing "
        "mistakes, and other syntax issues.",
    ),
    ErrorKind(
        "PERMISSION",
        None,
        403,
        "Your application has insufficient permissions to access the requested resource. "
        "Please prompt the user to re-authenticate using Smartcar Connect.",
        "REAUTHENTICATE",
    ),
    ErrorKind(
        "VALIDATION",
        None,
        400,
        "Request invalid or malformed. Please check for missing parameters, spelling and casing "
        "mistakes, and other syntax issues.",
    ),
    ErrorKind(
        "VALIDATION",
        "PARAMETER",
        400,
        "Your request is formatted correctly, but one or more of the provided parameters is "
        "incorrect.",
    ),
    ErrorKind("RESOURCE_NOT_FOUND", "PATH", 404, "The requested resource does not exist."),
    ErrorKind(
        "RATE_LIMIT",
        "SMARTCAR_API",
        429,
        "Your application has exceeded its rate limit. Please retry your request in a few minutes.",
        "RETRY_LATER",
    ),
    ErrorKind(
        "RATE_LIMIT",
        "VEHICLE",
        429,
        "You have reached the throttling rate limit for this vehicle. Please see the retry-after "
        "header for when to retry the request.",
        "RETRY_LATER",
    ),
    ErrorKind(
        "COMPATIBILITY",
        "MAKE_NOT_COMPATIBLE",
        501,
        "Smartcar is not yet compatible with this vehicle’s make in the country you specified.",
    ),
    ErrorKind(
        "COMPATIBILITY",
        "SMARTCAR_NOT_CAPABLE",
        501,
        "Smartcar does not yet support this feature for this vehicle.",
    ),
    ErrorKind(
        "COMPATIBILITY",
        "VEHICLE_NOT_CAPABLE",
        501,
        "The vehicle is incapable of performing your request.",
    ),
    ErrorKind(
        "CONNECTED_SERVICES_ACCOUNT",
        "ACCOUNT_ISSUE",
        400,
        "Action needed in the user’s connected services account. Please prompt the user to log "
        "into their connected services account and complete any outstanding tasks.",
    ),
    ErrorKind(
        "CONNECTED_SERVICES_ACCOUNT",
        "AUTHENTICATION_FAILED",
        400,
        "Smartcar was unable to authenticate with the user’s connected services account. Please "
        "prompt the user to re-authenticate using Smartcar Connect.",
        "REAUTHENTICATE",
    ),
    ErrorKind(
        "CONNECTED_SERVICES_ACCOUNT",
        "NO_VEHICLES",
        400,
        "No vehicles found in the user’s connected services account.",
    ),
    ErrorKind(
        "CONNECTED_SERVICES_ACCOUNT",
        "SUBSCRIPTION",
        400,
        "The vehicle’s connected services subscription is inactive or does not support the "
        "requested API endpoint.",
    ),
    ErrorKind(
        "CONNECTED_SERVICES_ACCOUNT",
        "VEHICLE_MISSING",
        400,
        "This vehicle is no longer associated with the user’s connected services account.",
    ),
    ErrorKind(
        "SERVER",
        "INTERNAL",
        500,
        "An internal Smartcar error has occurred. Our team has been notified and is working to "
        "resolve this issue.",
        "RETRY_LATER",
    ),
    *(
        ErrorKind("UPSTREAM", code, 502, text, "RETRY_LATER")
        for code, text in (
            ("INVALID_DATA", "Smartcar received invalid data from an upstream source."),
            ("KNOWN_ISSUE", "Smartcar received an error from an upstream source."),
            ("NO_RESPONSE", "One of Smartcar’s upstream sources failed to respond."),
            ("UNKNOWN_ISSUE", "Smartcar received an unknown error from an upstream source."),
        )
    ),
    *(
        ErrorKind("VEHICLE_STATE", code, 409, text)
        for code, text in (
            (
                "ASLEEP",
                "The vehicle is in a sleep state and temporarily unable to perform your request.",
            ),
            (
                "CHARGING_IN_PROGRESS",
                "The vehicle is currently charging and unable to perform your request.",
            ),
            (
                "CHARGING_PLUG_NOT_CONNECTED",
                "The vehicle is not connected to an EV charger and unable to perform your request.",
            ),
            (
                "DOOR_OPEN",
                "The vehicle could not perform your request because one or more of its "
                "doors are open.",
            ),
            (
                "FULLY_CHARGED",
                "The vehicle is unable to perform your request because its EV "
                "battery is fully charged.",
            ),
            (
                "HOOD_OPEN",
                "The vehicle is unable to perform your request because its hood is open.",
            ),
            (
                "IGNITION_ON",
                "The vehicle was unable to perform your request because its engine is running.",
            ),
            ("IN_MOTION", "The vehicle is currently in motion and unable to perform your request."),
            (
                "NOT_CHARGING",
                "The vehicle is unable to perform your request because it is not "
                "currently charging.",
            ),
            (
                "REMOTE_ACCESS_DISABLED",
                "The vehicle is unable to perform your request because "
                "the user has disabled remote access for connected services.",
            ),
            (
                "TRUNK_OPEN",
                "The vehicle is unable to perform your request because its trunk is open.",
            ),
            ("UNKNOWN", "The vehicle was unable to perform your request due to an unknown issue."),
            (
                "UNREACHABLE",
                "The vehicle was unable to perform your request because it is "
                "currently unreachable.",
            ),
        )
    ),
]

CATALOG: dict[tuple[str, str | None], ErrorKind] = {(k.type, k.code): k for k in _KINDS}

_PAGES = {
    "AUTHENTICATION": "authentication-errors",
    "PERMISSION": "permission-errors",
    "VALIDATION": "validation-errors",
    "RESOURCE_NOT_FOUND": "resource-not-found-errors",
    "RATE_LIMIT": "rate-limit-errors",
    "COMPATIBILITY": "compatibility-errors",
    "CONNECTED_SERVICES_ACCOUNT": "connected-services-account-errors",
    "SERVER": "server-errors",
    "UPSTREAM": "upstream-errors",
    "VEHICLE_STATE": "vehicle-state-errors",
}


def lookup(type_: object, code: object) -> ErrorKind | None:
    """The catalogue entry for a type/code, or None when the pair is not a Smartcar error."""
    if not isinstance(type_, str) or not isinstance(code, str | None):
        return None
    return CATALOG.get((type_.upper(), code.upper() if code else None))


def error_body(
    type_: str, code: str | None, request_id: str, *, detail: list[dict[str, str]] | None = None
) -> tuple[int, dict[str, Any]]:
    """HTTP status and the full v2 error object for a catalogued (type, code)."""
    kind = CATALOG[(type_, code)]
    fragment = (code or "null").lower().replace("_", "-")
    body: dict[str, Any] = {
        "type": kind.type,
        "code": kind.code,
        "description": kind.description,
        "docURL": f"{_DOC}{_PAGES[kind.type]}#{fragment}",
        "statusCode": kind.status,
        "requestId": request_id,
        "resolution": {"type": kind.resolution},
        "suggestedUserMessage": None,
    }
    if detail:
        body["detail"] = detail
    return kind.status, body
