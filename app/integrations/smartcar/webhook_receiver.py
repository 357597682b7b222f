"""The HTTP endpoint Smartcar delivers webhooks to (aiohttp, on the app's own loop).

Checks, in order, each refusal logged and answered without storing anything:

1. the body fits ``max_body_bytes`` (413) and says it is JSON (415);
2. ``SC-Signature`` matches the raw body (401 when missing or forged). The one exception
   is an unsigned VERIFY whose challenge looks like a random token (whether Smartcar
   signs VERIFY is not documented; see :mod:`.webhooks` for why other text is refused);
3. the JSON is an event (400);
4. ``meta.deliveredAt`` is not older than ``max_age_s`` nor in the future (409: a replay
   of a captured delivery; Smartcar's own retries carry a new time).

Then VERIFY is answered here and every other event handed to ``on_event``, whose
:class:`Ack` becomes the answer. Smartcar waits 15 s and retries a non-2xx answer, so
``on_event`` must return only once the event is stored (or known to be a duplicate);
an exception from it answers 503 and Smartcar delivers the event again later.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from app.integrations.smartcar.webhooks import (
    VerifyEvent,
    WebhookEvent,
    WebhookRejected,
    challenge_answerable_unsigned,
    decode,
    parse_event,
    sign,
    signature_valid,
)

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/smartcar/webhooks"
MAX_BODY_BYTES = 256 * 1024  # a full VEHICLE_STATE is ~10 KiB
MAX_AGE_S = 15 * 60.0  # Smartcar's last retry comes ~3 min after the first attempt
MAX_SKEW_S = 5 * 60.0


@dataclass(frozen=True)
class Ack:
    """The answer to a delivery: ``status`` 2xx acknowledges it."""

    status: int
    outcome: str  # "stored", "duplicate", "ignored", ...
    answer: str | None = None  # VERIFY only: the challenge's HMAC


OnEvent = Callable[[WebhookEvent], Awaitable[Ack]]


@dataclass(frozen=True)
class Refusal:
    """The latest delivery answered with an error, for the operator: a forged signature
    or a store failure is seen on screen, not only in the log."""

    at: float
    status: int
    reason: str


@dataclass(frozen=True)
class ReceiverConfig:
    host: str = "127.0.0.1"
    port: int = 8766
    path: str = DEFAULT_PATH
    max_body_bytes: int = MAX_BODY_BYTES
    max_age_s: float = MAX_AGE_S


class WebhookReceiver:
    """``await receiver.start()`` binds; ``url`` then says where; ``stop()`` unbinds."""

    def __init__(
        self,
        config: ReceiverConfig,
        management_token: str,
        on_event: OnEvent,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._key = management_token
        self._on_event = on_event
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        self.port: int | None = None
        #: Answers given, by outcome (``stored``, ``forged``, ...), for the status view.
        self.counts: Counter[str] = Counter()
        self.last_refusal: Refusal | None = None

    def __repr__(self) -> str:  # never show the key
        return f"WebhookReceiver({self.url or 'not started'})"

    async def start(self) -> str:
        app = web.Application(client_max_size=self._config.max_body_bytes)
        app.router.add_post(self._config.path, self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._config.host, self._config.port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.url = f"http://{self._config.host}:{self.port}{self._config.path}"
        logger.info("Smartcar webhook receiver listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            ack = await self._receive(request)
        except WebhookRejected as exc:
            self.counts[_label(exc.status)] += 1
            self.last_refusal = Refusal(self._clock(), exc.status, str(exc))
            logger.warning("Smartcar webhook refused (%d): %s", exc.status, exc)
            return web.json_response({"error": str(exc)}, status=exc.status)
        self.counts[ack.outcome] += 1
        if ack.status >= 300:
            self.last_refusal = Refusal(self._clock(), ack.status, ack.outcome)
        if ack.answer is not None:
            return web.json_response({"challenge": ack.answer}, status=ack.status)
        return web.json_response({"status": ack.outcome}, status=ack.status)

    async def _receive(self, request: web.Request) -> Ack:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise WebhookRejected(413, "body larger than the limit") from None
        if "json" not in request.content_type:
            raise WebhookRejected(415, f"content type {request.content_type!r} is not JSON")
        header = request.headers.get("SC-Signature")
        signed = signature_valid(self._key, body, header)
        if header and not signed:
            raise WebhookRejected(401, "SC-Signature does not match the body (forged?)")
        event = parse_event(decode(body))
        if isinstance(event, VerifyEvent):
            if not signed and not challenge_answerable_unsigned(event.challenge):
                raise WebhookRejected(401, "unsigned VERIFY with an unusual challenge")
            logger.info("Smartcar webhook VERIFY answered (%s)", "signed" if signed else "unsigned")
            return Ack(200, "verified", sign(self._key, event.challenge.encode()))
        if not signed:
            raise WebhookRejected(401, "delivery without SC-Signature")
        delivered = event.envelope.delivered_at
        if delivered is not None:
            age = self._clock() - delivered.timestamp()
            if age > self._config.max_age_s or age < -MAX_SKEW_S:
                raise WebhookRejected(
                    409, f"delivery from {delivered:%Y-%m-%d %H:%M:%S} is a replay"
                )
        try:
            return await self._on_event(event)
        except Exception:
            logger.exception("Smartcar webhook %s could not be stored", event.envelope.event_id)
            return Ack(503, "store failed")


def _label(status: int) -> str:
    return {
        400: "malformed",
        401: "unsigned or forged",
        409: "replayed",
        413: "oversized",
        415: "not JSON",
    }.get(status, f"refused {status}")
