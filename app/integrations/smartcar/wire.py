"""Checked access to untrusted JSON from Smartcar, and the v2 error-object factory.

Every helper raises :class:`SmartcarProtocolError` with the field name instead of letting a
``KeyError``/``TypeError`` escape, so one malformed answer can never crash a poll loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from app.integrations.smartcar.errors import (
    API_ERROR_CLASSES,
    Resolution,
    SmartcarApiError,
    SmartcarProtocolError,
)
from app.integrations.smartcar.models import ResponseMeta


@dataclass(frozen=True)
class RawResponse:
    """A decoded 2xx answer: JSON body plus the headers we keep (lower-case names)."""

    status: int
    body: Any
    headers: Mapping[str, str]


def obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SmartcarProtocolError(f"{what}: expected a JSON object")
    return value


def req_number(body: Mapping[str, Any], key: str) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SmartcarProtocolError(f"field {key!r}: expected a number, got {type(value).__name__}")
    return float(value)


def number(body: Mapping[str, Any], key: str, *, nullable: bool = False) -> float | None:
    if body.get(key) is None and nullable:
        return None
    return req_number(body, key)


def req_fraction(body: Mapping[str, Any], key: str) -> float:
    value = req_number(body, key)
    if not 0.0 <= value <= 1.0:
        raise SmartcarProtocolError(f"field {key!r}: {value} is not a fraction 0-1")
    return value


def fraction(body: Mapping[str, Any], key: str, *, nullable: bool = False) -> float | None:
    if body.get(key) is None and nullable:
        return None
    return req_fraction(body, key)


def req_text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise SmartcarProtocolError(f"field {key!r}: expected a string")
    return value


def boolean(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise SmartcarProtocolError(f"field {key!r}: expected true/false")
    return value


def timestamp(value: str | None) -> datetime | None:
    """ISO-8601 header value, or None when absent or unparsable (metadata is best effort)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def meta_from(headers: Mapping[str, str], request_id: str | None = None) -> ResponseMeta:
    """Metadata from response (or batch item) headers; header names are case-insensitive."""
    lower = {k.lower(): v for k, v in headers.items()}
    return ResponseMeta(
        request_id=lower.get("sc-request-id", request_id),
        data_age=timestamp(lower.get("sc-data-age")),
        fetched_at=timestamp(lower.get("sc-fetched-at")),
        unit_system=lower.get("sc-unit-system"),
    )


#: Longest wait a Retry-After may impose. Smartcar's own limits reset within minutes (the
#: per-vehicle bucket) or an hour (the app-wide window); a larger value is a broken or hostile
#: header, and obeying ``999999999`` would park a car for ~31 years.
MAX_RETRY_AFTER_S = 3600


def retry_after_s(value: str | None, sent_at: str | None = None) -> int | None:
    """Seconds to wait from a ``Retry-After`` header, capped at :data:`MAX_RETRY_AFTER_S`.

    Both RFC 9110 forms: delta-seconds (``"120"``) and an HTTP-date, measured from the
    response's own ``Date`` header when it has one (so a skewed local clock does not
    stretch or cancel the wait), else from now. Unparsable or negative: None.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(int(text), MAX_RETRY_AFTER_S)
    until = _http_date(text)
    if until is None:
        return None
    origin = _http_date(sent_at or "") or datetime.now(UTC)
    return max(0, min(math.ceil((until - origin).total_seconds()), MAX_RETRY_AFTER_S))


def _http_date(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def api_error(status: int, body: Any, headers: Mapping[str, str]) -> SmartcarApiError:
    """Typed exception for a v2 error object; raises a protocol error if it is not one."""
    lower = {k.lower(): v for k, v in headers.items()}
    request_id = lower.get("sc-request-id")
    if not isinstance(body, Mapping) or not isinstance(body.get("type"), str):
        raise SmartcarProtocolError(
            f"HTTP {status} without a Smartcar error object",
            status=status,
            request_id=request_id,
            excerpt=repr(body),
        )
    resolution_raw = body.get("resolution")
    resolution = Resolution()
    if isinstance(resolution_raw, Mapping):
        r_type, r_url = resolution_raw.get("type"), resolution_raw.get("url")
        resolution = Resolution(
            r_type if isinstance(r_type, str) else None, r_url if isinstance(r_url, str) else None
        )
    code, description = body.get("code"), body.get("description")
    detail = body.get("detail")
    suggested = body.get("suggestedUserMessage")
    body_request_id = body.get("requestId")
    cls = API_ERROR_CLASSES.get(body["type"], SmartcarApiError)
    return cls(
        status=status,
        type=body["type"],
        code=code if isinstance(code, str) else None,
        description=description if isinstance(description, str) else "",
        request_id=request_id or (body_request_id if isinstance(body_request_id, str) else None),
        resolution=resolution,
        retry_after=retry_after_s(lower.get("retry-after"), lower.get("date")),
        doc_url=body.get("docURL") if isinstance(body.get("docURL"), str) else None,
        detail=detail if isinstance(detail, list) else None,
        suggested_user_message=suggested if isinstance(suggested, str) else None,
    )


def text_or_none(body: Mapping[str, Any], key: str) -> str | None:
    """Optional string field: None when absent or null, error when another type."""
    if body.get(key) is None:
        return None
    return req_text(body, key)
