"""The V3 error shapes, turned into the same typed errors the v2.0 object gives.

A failed V3 request answers ``{"errors": [{status: "<string>", type, code, title, detail,
links{about}, resolution{type}}]}``; a signal that failed inside an HTTP 200 carries
``status.error`` with the same fields minus ``status``/``links`` (webhooks trim it to
``{type, code}``; VEHICLE_ERROR entries use the v2 names ``description``/``docURL``).
Every form maps onto :class:`SmartcarApiError` and its subclasses, so the console's error
texts, health rules and poll policy work unchanged whichever version answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.integrations.smartcar.errors import (
    API_ERROR_CLASSES,
    Resolution,
    SmartcarApiError,
    SmartcarProtocolError,
)
from app.integrations.smartcar.wire import retry_after_s

#: HTTP status Smartcar uses for each error type (v2 table), for errors that came without
#: one (per-signal and webhook errors): the poll policy reads ``status``.
TYPE_STATUS = {
    "AUTHENTICATION": 401,
    "PERMISSION": 403,
    "VALIDATION": 400,
    "RESOURCE_NOT_FOUND": 404,
    "RATE_LIMIT": 429,
    "BILLING": 430,
    "COMPATIBILITY": 501,
    "CONNECTED_SERVICES_ACCOUNT": 400,
    "SERVER": 500,
    "UPSTREAM": 502,
    "VEHICLE_STATE": 409,
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def error_from_object(
    entry: Mapping[str, Any],
    *,
    status: int | None = None,
    request_id: str | None = None,
    retry_after: int | None = None,
) -> SmartcarApiError:
    """One V3 error object (envelope entry, signal error or webhook error) as a typed error.

    ``status`` is the HTTP status when there was a response; otherwise the entry's own
    string ``status``, else the usual status of its type.
    """
    type_ = _text(entry.get("type"))
    if type_ is None:
        raise SmartcarProtocolError("V3 error without a type", status=status)
    if status is None:
        own = entry.get("status")
        status = int(own) if isinstance(own, str) and own.isdigit() else TYPE_STATUS.get(type_, 400)
    resolution_raw = entry.get("resolution")
    resolution = Resolution()
    if isinstance(resolution_raw, Mapping):
        resolution = Resolution(_text(resolution_raw.get("type")), _text(resolution_raw.get("url")))
    links = entry.get("links")
    about = _text(links.get("about")) if isinstance(links, Mapping) else None
    description = (
        _text(entry.get("detail"))
        or _text(entry.get("description"))
        or _text(entry.get("title"))
        or ""
    )
    if description == "Deprecated. Use detail":  # seen in real captures
        description = _text(entry.get("title")) or ""
    cls = API_ERROR_CLASSES.get(type_, SmartcarApiError)
    return cls(
        status=status,
        type=type_,
        code=_text(entry.get("code")),
        description=description,
        request_id=request_id,
        resolution=resolution,
        retry_after=retry_after,
        doc_url=about or _text(entry.get("docURL")),
        suggested_user_message=_text(entry.get("suggestedUserMessage")),
    )


def v3_api_error(status: int, body: Any, headers: Mapping[str, str]) -> SmartcarApiError:
    """Typed exception for a non-2xx V3 answer; a v2-shaped body is accepted too (some
    V3 paths may still answer that way), anything else is a protocol error."""
    lower = {k.lower(): v for k, v in headers.items()}
    request_id = lower.get("sc-request-id")
    retry_after = retry_after_s(lower.get("retry-after"), lower.get("date"))
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        return error_from_object(
            errors[0], status=status, request_id=request_id, retry_after=retry_after
        )
    if isinstance(body, Mapping) and isinstance(body.get("type"), str):
        return error_from_object(
            body, status=status, request_id=request_id, retry_after=retry_after
        )
    raise SmartcarProtocolError(
        f"HTTP {status} without a Smartcar error object",
        status=status,
        request_id=request_id,
        excerpt=repr(body),
    )
