"""Response helpers and the middleware that gives every failure the right shape.

Smartcar answers API failures with the v2 error object, the token endpoint with OAuth-style
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
    if path.startswith("/oauth/token"):
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


class Reject(Exception):
    """Carries a finished error response up to the route handler."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response
