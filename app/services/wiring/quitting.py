"""How the console and the collector stop: on Quit, on SIGTERM/SIGINT, always bounded.

Before, quitting hung for minutes ("rental-expiry did not stop in 10 s", one wait per
task) and a system shutdown's SIGTERM killed the process with telemetry still in the
write queue. Now every stop request takes one path: producers stop, the telemetry
writer and IoT store batches flush, the rest is cancelled, all within ``SHUTDOWN_S``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from app.services.tasks import SHUTDOWN_S, TaskOwner

logger = logging.getLogger(__name__)

QUIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)
CLOSE_BACKENDS_S = 1.0
"""Of the bound, what is kept for closing clients (the Smartcar backend) after the tasks."""


def on_quit_signals(
    loop: asyncio.AbstractEventLoop, request_quit: Callable[[], None]
) -> Callable[[], None]:
    """Call ``request_quit()`` on the loop at SIGTERM or SIGINT; returns the undo.

    ``add_signal_handler`` wakes the loop through its self-pipe, which qasync's loop
    watches too, so the signal is seen even while Qt sits in its own event processing.
    """
    installed = []
    for number in QUIT_SIGNALS:
        try:
            loop.add_signal_handler(number, _requested, number, request_quit)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            logger.warning("cannot handle %s here; it will end the process", number.name)
            continue
        installed.append(number)

    def undo() -> None:
        for number in installed:
            loop.remove_signal_handler(number)

    return undo


def _requested(number: signal.Signals, request_quit: Callable[[], None]) -> None:
    logger.info("%s received: quitting", number.name)
    request_quit()


async def stop_background_work(
    tasks: TaskOwner,
    *closers: Callable[[], Awaitable[object]],
    timeout_s: float = SHUTDOWN_S,
) -> None:
    """Stop ``tasks`` (drains first: see TaskOwner.shutdown), then run ``closers``.

    All of it within ``timeout_s``; a closer that overruns is logged and abandoned.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    await tasks.shutdown(timeout_s - (CLOSE_BACKENDS_S if closers else 0.0))
    for close in closers:
        await close_within(close, deadline - loop.time())
    logger.info("background work stopped in %.1f s", timeout_s - max(0.0, deadline - loop.time()))


async def close_within(close: Callable[[], Awaitable[object]], seconds: float) -> None:
    """Await ``close()`` for at most ``seconds``; an overrun or error is logged, not raised."""
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await close()
    except TimeoutError:
        logger.error("closing %s did not finish within the quit bound", close)
    except Exception:
        logger.exception("closing %s failed", close)
