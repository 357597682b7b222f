import asyncio

import pytest

from app.services.tasks import TaskOwner


@pytest.mark.asyncio
async def test_shutdown_stops_tasks_in_reverse_start_order():
    stopped: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(name)

    owner = TaskOwner()
    for name in ("writer", "cron", "gateway"):
        owner.spawn(worker(name), name)
    await asyncio.sleep(0)
    assert owner.running == ["cron", "gateway", "writer"]
    await owner.shutdown()
    assert stopped == ["gateway", "cron", "writer"]
    assert owner.running == []


@pytest.mark.asyncio
async def test_a_task_that_ignores_cancellation_cannot_hang_shutdown(caplog):
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # refuses to stop

    owner = TaskOwner()
    task = owner.spawn(stubborn(), "stubborn")
    await asyncio.sleep(0)
    await owner.shutdown(timeout_s=0.05)
    assert "stubborn did not stop" in caplog.text
    release.set()
    await task
