"""A one-shot HTTP listener on 127.0.0.1 for Connect in the system browser.

When the embedded view cannot be used, the operator's own browser runs Connect and Smartcar
redirects it to the registered loopback redirect URI; this listener catches that one request
and hands its full URL to the same completion path as the embedded view (state check
included). It binds the port named in the redirect URI, or an ephemeral one when the URI
names none (then ``redirect_uri`` tells which was taken).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

logger = logging.getLogger(__name__)

_DONE_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Fleet Console</title></head>"
    "<body style='font-family: sans-serif'><h2>Done.</h2><p>You can close this tab and return "
    "to Fleet Console.</p></body></html>"
)


class LoopbackError(Exception):
    """The redirect URI is not a loopback http URI, or its port is taken."""


class LoopbackListener:
    """``await start()``, then ``await wait()`` for the redirect URL; ``await stop()`` always."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise LoopbackError(
                "The browser fallback needs a loopback redirect URI such as "
                "http://127.0.0.1:8765/smartcar/callback."
            )
        self._parts = parts
        self._path = parts.path or "/"
        self._port = parts.port or 0
        self._received: asyncio.Future[str] | None = None
        self._runner: web.AppRunner | None = None
        self.redirect_uri = redirect_uri

    async def start(self) -> None:
        self._received = asyncio.get_running_loop().create_future()
        app = web.Application()
        app.router.add_get(self._path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise LoopbackError(
                f"Port {self._port} on this computer is in use; close the program using it "
                "or use the embedded Connect window."
            ) from exc
        port = self._runner.addresses[0][1]
        netloc = f"{self._parts.hostname}:{port}"
        self.redirect_uri = urlunsplit(("http", netloc, self._path, "", ""))
        logger.info("loopback redirect listener on 127.0.0.1:%d", port)

    async def _handle(self, request: web.Request) -> web.Response:
        if self._received is not None and not self._received.done():
            # The URL carries a one-time code: pass it on, never log it.
            self._received.set_result(str(request.url))
        return web.Response(text=_DONE_PAGE, content_type="text/html")

    async def wait(self) -> str:
        if self._received is None:
            raise LoopbackError("the listener was not started")
        return await self._received

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._received is not None and not self._received.done():
            self._received.cancel()
