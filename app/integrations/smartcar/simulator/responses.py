"""Response helpers and the middleware that gives every failure the right shape.

Smartcar answers v2.0 API failures with the v2 error object, API V3 (``/v3/...``, vehicle and
management routes) with the ``{"errors": [...]}`` envelope, the token endpoints with OAuth-style
``{"error", "error_description"}`` and Connect with HTML pages; the middleware picks the shape by
path so aiohttp's own errors (404, 405, 413, ...) never leak out as plain text.
"""

from __future__ import annotations

import html
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from app.integrations.smartcar.simulator.errors import error_body
from app.integrations.smartcar.simulator.v3_errors import envelope

logger = logging.getLogger(__name__)

REQUEST_ID = web.RequestKey("sc_request_id", str)


def request_id(request: web.Request) -> str:
    return request.get(REQUEST_ID) or "unknown"


def json_response(
    request: web.Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def v2_error(
    request: web.Request,
    type_: str,
    code: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    detail: list[dict[str, str]] | None = None,
    status: int | None = None,
) -> web.Response:
    """A complete v2 error object; ``status`` overrides the catalogue (e.g. 413 for size)."""
    http_status, body = error_body(type_, code, request_id(request), detail=detail)
    if status is not None:
        http_status = body["statusCode"] = status
    return json_response(request, body, http_status, headers)


def v3_error(
    request: web.Request,
    type_: str,
    code: str | None = None,
    *,
    detail: str | None = None,
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The API V3 ``{"errors": [...]}`` envelope (see :mod:`.v3_errors`)."""
    http_status, body = envelope(type_, code, detail=detail, status=status)
    return json_response(request, body, http_status, headers)


def is_v3(request: web.Request) -> bool:
    """Whether a path belongs to the V3 vehicle or management API (``/v3``, ``/v3/...``)."""
    return request.path == "/v3" or request.path.startswith("/v3/")


def oauth_error(request: web.Request, status: int, error: str, description: str) -> web.Response:
    return json_response(request, {"error": error, "error_description": description}, status)


def html_page(title: str, body_html: str, status: int = 200) -> web.Response:
    """A minimal, script-free page; ``body_html`` must already be escaped."""
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:28em;margin:2em auto}"
        "button{margin:.2em;padding:.5em 1em}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body_html}</body></html>"
    )
    return web.Response(text=page, status=status, content_type="text/html")


def _shape_for(request: web.Request, exc: web.HTTPException) -> web.Response:
    path = request.path
    if is_v3(request):
        if exc.status == 413:
            return v3_error(request, "VALIDATION", detail="Request body too large.", status=413)
        if exc.status in (404, 405):
            return v3_error(request, "RESOURCE_NOT_FOUND", "PATH", status=exc.status)
        return v3_error(request, "VALIDATION", "BAD_REQUEST", status=exc.status)
    if path.startswith(("/oauth/token", "/oauth2/token")):
        return oauth_error(request, exc.status, "invalid_request", exc.reason)
    if path.startswith(("/oauth", "/_sim")):
        return html_page("Error", f"<p id='error'>{html.escape(exc.reason)}</p>", exc.status)
    if exc.status == 413:
        detail = [{"field": "body", "message": "Request body too large."}]
        return v2_error(request, "VALIDATION", None, detail=detail, status=413)
    if exc.status in (404, 405):
        return v2_error(request, "RESOURCE_NOT_FOUND", "PATH", status=exc.status)
    return v2_error(request, "VALIDATION", None, status=exc.status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def smartcar_shape_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Assign ``SC-Request-Id``, convert aiohttp errors and crashes into Smartcar-shaped ones."""
    request[REQUEST_ID] = str(uuid.uuid4())
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _shape_for(request, exc)
    except ConnectionResetError:
        # The client gave up (its timeout) while the request was being read: nobody is
        # left to answer, and nothing in the simulator went wrong.
        logger.info("client went away during %s %s", request.method, request.path)
        return web.Response(status=400, text="connection lost")  # written to nobody
    except Exception:
        logger.exception("simulator handler crashed on %s %s", request.method, request.path)
        if is_v3(request):
            response = v3_error(request, "SERVER", "INTERNAL")
        else:
            response = v2_error(request, "SERVER", "INTERNAL")
    response.headers["SC-Request-Id"] = request[REQUEST_ID]
    return response


async def read_json(request: web.Request) -> Any:
    """The JSON body, or raise a ready VALIDATION response for wrong type or bad syntax."""
    if request.content_type != "application/json":
        raise Reject(
            v2_error(
                request,
                "VALIDATION",
                detail=[{"field": "Content-Type", "message": "Expected application/json."}],
            )
        )
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Reject(
            v2_error(request, "VALIDATION", detail=[{"field": "body", "message": "Invalid JSON."}])
        ) from None


async def read_json_v3(request: web.Request, *, optional: bool = False) -> Any:
    """Like :func:`read_json` but failing in the V3 envelope; ``optional`` lets an empty body
    (commands without parameters: the SDK sends ``{}``, curl may send nothing) read as ``{}``."""
    raw = await request.read()
    if optional and not raw.strip():
        return {}
    if request.content_type != "application/json":
        raise Reject(
            v3_error(request, "VALIDATION", "BAD_REQUEST", detail="Expected application/json.")
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Reject(
            v3_error(request, "VALIDATION", "BAD_REQUEST", detail="Invalid JSON body.")
        ) from None


class Reject(Exception):
    """Carries a finished error response up to the route handler."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response
