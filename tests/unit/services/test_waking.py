"""A cancel arriving in the same loop turn as the wake-up is not lost (issue #14 item 9)."""

from __future__ import annotations

import asyncio

import pytest

from app.services.waking import wait_woken


async def _turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)  # one loop turn each: ordering, not timing


@pytest.mark.asyncio
async def test_a_cancel_in_the_same_turn_as_the_wake_stops_the_loop():
    wake, rounds = asyncio.Event(), []

    async def worker() -> None:  # the shape of the cron, alert and relay loops
        while True:
            await wait_woken(wake, 60.0)
            wake.clear()
            rounds.append(1)

    task = asyncio.get_running_loop().create_task(worker())
    await _turns()
    wake.set()  # a poll finished ...
    task.cancel()  # ... and the quit's cancel comes in the same turn
    await _turns()
    try:
        assert task.cancelled(), "the cancel was swallowed: the worker runs on"
    finally:
        task.cancel()
        await asyncio.wait({task})


@pytest.mark.asyncio
async def test_it_says_whether_it_was_woken():
    wake = asyncio.Event()
    assert await wait_woken(wake, 0.0) is False
    wake.set()
    assert await wait_woken(wake, 60.0) is True
