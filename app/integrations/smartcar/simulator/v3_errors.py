"""The API V3 error envelope, built from the v2 catalogue plus the few V3-only codes.

V3 (vehicle and management API alike) answers failures with
``{"errors": [{status (string), type, code, title, detail, links.about, resolution.type}]}``
instead of the v2 object. Types, codes, HTTP statuses and resolutions are the v2 ones
(:mod:`.errors`), so a fault injected once (magic login, ``/_sim/faults``) reads the same on
both surfaces. ``title`` is the code title-cased (the type when the code is null, e.g.
``AUTHENTICATION`` -> ``Authentication``).

V3-only codes the simulator emits (documented in the package docstring):
``VALIDATION``/``MISSING_HEADER`` (400, an application token without ``sc-user-id`` on a
vehicle route), ``VALIDATION``/``BAD_REQUEST`` (400, body or query not understood),
``VALIDATION``/``CONFLICT`` (409, already subscribed) and
``VALIDATION``/``VERIFICATION_FAILED`` (422, a webhook receiver failed the VERIFY challenge).
"""

from __future__ import annotations

from typing import Any

from app.integrations.smartcar.simulator.errors import CATALOG, ErrorKind

_ABOUT = "https://smartcar.com/docs/errors/api-errors/"

V3_KINDS: dict[tuple[str, str | None], ErrorKind] = {
    ("VALIDATION", "MISSING_HEADER"): ErrorKind(
        "VALIDATION",
        "MISSING_HEADER",
        400,
        "A required header is missing: send sc-user-id with an application token.",
    ),
    ("VALIDATION", "BAD_REQUEST"): ErrorKind(
        "VALIDATION",
        "BAD_REQUEST",
        400,
        "The request could not be understood by the server due to malformed syntax.",
    ),
    ("VALIDATION", "CONFLICT"): ErrorKind(
        "VALIDATION", "CONFLICT", 409, "The resource already exists."
    ),
    ("VALIDATION", "VERIFICATION_FAILED"): ErrorKind(
        "VALIDATION",
        "VERIFICATION_FAILED",
        422,
        "The webhook callback did not answer the VERIFY challenge correctly.",
    ),
}

_PAGES = {
    "AUTHENTICATION": "authentication-errors",
    "PERMISSION": "permission-errors",
    "VALIDATION": "v3/validation-errors",
    "RESOURCE_NOT_FOUND": "resource-not-found-errors",
    "RATE_LIMIT": "rate-limit-errors",
    "COMPATIBILITY": "v3/compatibility-errors",
    "CONNECTED_SERVICES_ACCOUNT": "connected-services-account-errors",
    "SERVER": "server-errors",
    "UPSTREAM": "upstream-errors",
    "VEHICLE_STATE": "vehicle-state-errors",
}


def kind_of(type_: str, code: str | None) -> ErrorKind:
    """The catalogue entry; V3-only codes first, then the v2 catalogue."""
    return V3_KINDS.get((type_, code)) or CATALOG[(type_, code)]


def envelope(
    type_: str, code: str | None = None, *, detail: str | None = None, status: int | None = None
) -> tuple[int, dict[str, Any]]:
    """HTTP status and the ``{"errors": [...]}`` body; ``status`` overrides the catalogue
    (405 and 413 keep the catalogued type/code of the nearest kind)."""
    kind = kind_of(type_, code)
    http_status = status or kind.status
    fragment = (code or "null").lower().replace("_", "-")
    error = {
        "status": str(http_status),
        "type": kind.type,
        "code": kind.code,
        "title": (kind.code or kind.type).replace("_", " ").title(),
        "detail": detail or kind.description,
        "links": {"about": f"{_ABOUT}{_PAGES[kind.type]}#{fragment}"},
        "resolution": {"type": kind.resolution},
    }
    return http_status, {"errors": [error]}
