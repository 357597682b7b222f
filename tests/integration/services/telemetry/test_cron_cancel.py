"""The real telemetry cron stops on a cancel that comes with a wake-up in one loop turn."""

from __future__ import annotations

import pytest

from tests.helpers.waiting import until


@pytest.mark.asyncio
async def test_the_cron_stops_when_cancelled_in_the_turn_a_poll_wakes_it(rig):
    cron = rig.cron()
    task = rig.tasks[-1]
    await until(lambda: cron._wake._waiters, what="the cron waiting for its next run")
    cron._wake.set()  # what a finished poll or a new connection does
    task.cancel()
    await until(task.done, timeout=5, what="the cron to stop")
    assert task.cancelled() and not cron.status().running
