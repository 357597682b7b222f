"""An HTTP listener on 127.0.0.1 for Connect in the system browser.

When the embedded view cannot be used, the operator's own browser runs Connect and Smartcar
redirects it to the registered loopback redirect URI; this listener catches that request
and hands its full URL to the same completion path as the embedded view (state check
included). It binds the port named in the redirect URI, or an ephemeral one when the URI
names none (then ``redirect_uri`` tells which was taken).

Any local process or web page can send a request to a loopback port, so the first request
is not trusted to be the redirect: only one carrying the ``state`` of the Connect session
this listener waits for ends the wait. Others get 400 and the listener keeps listening,
until the right answer arrives or the wait times out.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import parse_qs, urlsplit, urlunsplit

from aiohttp import web

logger = logging.getLogger(__name__)

_DONE_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Fleet Console</title></head>"
    "<body style='font-family: sans-serif'><h2>Done.</h2><p>You can close this tab and return "
    "to Fleet Console.</p></body></html>"
)
_FOREIGN_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Fleet Console</title></head>"
    "<body style='font-family: sans-serif'><h2>Not accepted.</h2><p>This answer is not for "
    "the Connect session Fleet Console is waiting for.</p></body></html>"
)
#: How long ``wait`` listens by default: as long as a Connect ``state`` stays valid.
WAIT_TIMEOUT_S = 1800.0


class LoopbackError(Exception):
    """The redirect URI is not a loopback http URI, its port is taken, or no answer came."""


class LoopbackListener:
    """``await start()``, ``expect_state_of(connect_url)``, then ``await wait()`` for the
    redirect URL; ``await stop()`` always."""

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
        self._state: str | None = None
        self.refused = 0  # requests answered 400 (wrong or missing state)
        self.redirect_uri = redirect_uri

    def expect_state_of(self, connect_url: str) -> None:
        """Accept only the redirect carrying this Connect URL's ``state``."""
        self._state = parse_qs(urlsplit(connect_url).query).get("state", [None])[0]

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
        state = request.query.get("state", "")
        expected = self._state
        if expected is None or not secrets.compare_digest(state.encode(), expected.encode()):
            self.refused += 1
            logger.warning("loopback redirect listener: refused a request without our state")
            return web.Response(status=400, text=_FOREIGN_PAGE, content_type="text/html")
        if self._received is not None and not self._received.done():
            # The URL carries a one-time code: pass it on, never log it.
            self._received.set_result(str(request.url))
        return web.Response(text=_DONE_PAGE, content_type="text/html")

    async def wait(self, timeout_s: float = WAIT_TIMEOUT_S) -> str:
        """The redirect URL with our state; LoopbackError when none came in ``timeout_s``."""
        if self._received is None:
            raise LoopbackError("the listener was not started")
        try:
            return await asyncio.wait_for(asyncio.shield(self._received), timeout_s)
        except TimeoutError:
            raise LoopbackError(
                f"No answer from the browser within {timeout_s / 60:.0f} min; start Connect again."
            ) from None

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._received is not None and not self._received.done():
            self._received.cancel()
