"""One long-lived ``httpx.AsyncClient`` and the rules for turning its answers into results.

Kept apart from the client so the auth helper and the data reader share connections, and so
every path (API, token endpoint) applies the same checks: a JSON content type, a size cap and
decodable JSON, with transport failures mapped to our own exception types.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Mapping
from typing import Any

import httpx

from app.integrations.smartcar.errors import (
    SmartcarProtocolError,
    SmartcarTimeoutError,
    SmartcarTransportError,
)
from app.integrations.smartcar.rate_gate import AppRateGate
from app.integrations.smartcar.wire import RawResponse, api_error

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
#: Deepest JSON nesting accepted. Smartcar's answers nest four or five levels (a batch item's
#: body inside the batch); a body under the size cap can still nest a million levels, which
#: the standard parser answers with RecursionError, and anything that walks the result later
#: (storing a raw payload, logging it) would recurse just as deep.
MAX_JSON_DEPTH = 32
USER_AGENT = f"FleetConsole/0.1 ({platform.system()}; Python {platform.python_version()})"
#: Smartcar may hold a request ~300 s while it reaches the car; outlive its load balancer.
DEFAULT_TIMEOUT = httpx.Timeout(310.0, connect=10.0)
KEPT_HEADERS = (
    "sc-request-id",
    "sc-data-age",
    "sc-fetched-at",
    "sc-unit-system",
    "retry-after",
    "date",
)


def new_http_client(
    timeout: httpx.Timeout = DEFAULT_TIMEOUT, max_connections: int = 32
) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(timeout=timeout, limits=limits, headers={"User-Agent": USER_AGENT})


def decode_json(response: httpx.Response) -> Any:
    """The JSON body, or a SmartcarProtocolError saying what was wrong with it."""
    request_id = response.headers.get("sc-request-id")
    if len(response.content) > MAX_BODY_BYTES:
        raise SmartcarProtocolError(
            f"HTTP {response.status_code}: body larger than {MAX_BODY_BYTES} bytes",
            status=response.status_code,
            request_id=request_id,
        )
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type.lower():
        raise SmartcarProtocolError(
            f"HTTP {response.status_code}: expected JSON, got {content_type or 'no content type'}",
            status=response.status_code,
            request_id=request_id,
            excerpt=response.text,
        )
    try:
        body = json.loads(response.content)
    except RecursionError:
        raise _too_deep(response, request_id) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SmartcarProtocolError(
            f"HTTP {response.status_code}: malformed JSON ({exc})",
            status=response.status_code,
            request_id=request_id,
            excerpt=response.text,
        ) from None
    if json_depth(body) > MAX_JSON_DEPTH:
        raise _too_deep(response, request_id)
    return body


def json_depth(value: Any) -> int:
    """Nesting depth of decoded JSON (a scalar is 0), walked without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest  # no need to walk the rest of a hostile body
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep(response: httpx.Response, request_id: str | None) -> SmartcarProtocolError:
    return SmartcarProtocolError(
        f"HTTP {response.status_code}: JSON nested deeper than {MAX_JSON_DEPTH} levels",
        status=response.status_code,
        request_id=request_id,
    )


class HttpTransport:
    """Sends requests for the client; implements the reader's ``Transport`` protocol.

    API calls pass the application-wide rate gate first (see :mod:`.rate_gate`); the token
    endpoint is not rate limited that way and does not.
    """

    def __init__(
        self, api_origin: str, http: httpx.AsyncClient, gate: AppRateGate | None = None
    ) -> None:
        self.api_origin = api_origin.rstrip("/")
        self.http = http
        self.gate = gate or AppRateGate()

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Raw exchange; only transport failures are translated here."""
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise SmartcarTimeoutError(f"{method} {httpx.URL(url).path}: timed out") from exc
        except httpx.HTTPError as exc:
            raise SmartcarTransportError(
                f"{method} {httpx.URL(url).path}: {type(exc).__name__}"
            ) from exc

    async def request(
        self,
        method: str,
        path: str,
        *,
        access_token: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        auth_scheme: str = "Bearer",
    ) -> RawResponse:
        """An API call: non-2xx becomes a typed SmartcarApiError (or protocol error)."""
        self.gate.check()
        headers = {"Authorization": f"{auth_scheme} {access_token}", "SC-Unit-System": "metric"}
        response = await self.send(
            method, self.api_origin + path, headers=headers, json=json, params=params
        )
        body = decode_json(response)
        kept = {k: v for k in KEPT_HEADERS if (v := response.headers.get(k)) is not None}
        if response.is_success:
            return RawResponse(response.status_code, body, kept)
        error = api_error(response.status_code, body, kept)
        logger.info("Smartcar %s %s failed: %s", method, path.split("?")[0], error)
        self.gate.hold(error)
        raise error
