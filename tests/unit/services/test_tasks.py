import asyncio

import pytest

from app.services.tasks import TaskOwner
from tests.helpers.waiting import until


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
@pytest.mark.expect_log(
    "app.services.tasks", r"background task stubborn did not stop within the", level="ERROR"
)
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


class FakeTime:
    """The supervisor's clock and sleep: sleeps are recorded and pass at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


def flaky(failures: int, runs: list[int], forever: asyncio.Event):
    """A factory whose first ``failures`` coroutines crash; the next one runs until set."""

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) <= failures:
            raise ValueError(f"boom {len(runs)}")
        await forever.wait()

    return work


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.tasks", r"background task iot\-ingest crashed", level="ERROR")
@pytest.mark.expect_log("app.services.tasks", r"background task iot\-ingest restarts in")
async def test_a_crashing_factory_task_is_logged_and_restarted_with_backoff(caplog):
    fake, runs, forever = FakeTime(), [], asyncio.Event()
    owner = TaskOwner(clock=fake.clock, sleep=fake.sleep)
    changes: list[tuple[list[str], dict[str, str]]] = []
    owner.subscribe(lambda: changes.append((owner.running, owner.failures())))
    owner.spawn(flaky(3, runs, forever), "iot-ingest", restart=True)
    await until(lambda: len(runs) == 4, what="the fourth start")
    assert fake.slept == [1.0, 2.0, 4.0]
    assert owner.restarts == 3 and owner.failures() == {} and owner.running == ["iot-ingest"]
    crashes = [r for r in caplog.records if "iot-ingest crashed" in r.getMessage()]
    assert len(crashes) == 3 and all(r.exc_info for r in crashes)  # with the traceback
    assert (["iot-ingest"], {}) in changes
    assert ([], {"iot-ingest": "ValueError: boom 1"}) in changes  # down, observable
    await owner.shutdown()
    assert owner.running == []


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.tasks", r"background task rental\-expiry crashed", level="ERROR"
)
@pytest.mark.expect_log("app.services.tasks", r"background task rental\-expiry restarts in")
async def test_a_task_down_is_reported_with_its_reason_until_it_restarts():
    fake, runs, forever, release = FakeTime(), [], asyncio.Event(), asyncio.Event()

    async def held_sleep(seconds: float) -> None:
        fake.slept.append(seconds)
        await release.wait()

    owner = TaskOwner(clock=fake.clock, sleep=held_sleep)
    owner.spawn(flaky(1, runs, forever), "rental-expiry", restart=True)
    await until(lambda: fake.slept, what="the backoff")
    assert owner.failures() == {"rental-expiry": "ValueError: boom 1"}
    assert owner.running == [] and owner.retry_in("rental-expiry") == 1.0
    fake.now += 0.4
    assert owner.retry_in("rental-expiry") == pytest.approx(0.6)
    release.set()
    await until(lambda: owner.running == ["rental-expiry"], what="the restart")
    assert owner.failures() == {} and owner.restarts == 1
    await owner.shutdown()


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.tasks", r"background task alerts restarts in")
@pytest.mark.expect_log(
    "app.services.tasks",
    r"background task alerts stopped without an error \(it should r",
    level="ERROR",
)
async def test_returning_early_is_a_failure_and_backoff_resets_after_a_healthy_run():
    fake, starts = FakeTime(), []

    async def returns() -> None:
        starts.append(fake.now)
        fake.now += 61.0 if len(starts) == 3 else 0.0  # the third run was a healthy one
        if len(starts) == 5:
            await asyncio.Event().wait()

    owner = TaskOwner(clock=fake.clock, sleep=fake.sleep)
    owner.spawn(returns, "alerts", restart=True)
    await until(lambda: len(starts) == 5, what="five starts")
    assert fake.slept == [1.0, 2.0, 1.0, 2.0]
    await owner.shutdown()


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.tasks", r"background task iot\-gateway crashed", level="ERROR"
)
async def test_without_restart_a_crashed_task_stays_down_and_says_why():
    async def crash() -> None:
        raise OSError("port 5013 in use")

    owner = TaskOwner()
    task = owner.spawn(crash(), "iot-gateway")
    await asyncio.wait({task})
    assert owner.failures() == {"iot-gateway": "OSError: port 5013 in use"}
    assert owner.retry_in("iot-gateway") is None and owner.restarts == 0


@pytest.mark.asyncio
async def test_restart_needs_a_factory():
    owner = TaskOwner()
    with pytest.raises(TypeError, match="factory"):
        owner.spawn(asyncio.sleep(1), "bare", restart=True)


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.tasks", r"background task iot\-command\-audit crashed", level="ERROR"
)
@pytest.mark.expect_log(
    "app.services.tasks",
    r"background task iot\-command\-audit did not stop within the",
    level="ERROR",
)
@pytest.mark.expect_log("app.services.tasks", r"background task iot\-command\-audit restarts in")
@pytest.mark.expect_log(
    "app.services.tasks", r"background task one did not stop within the", level="ERROR"
)
@pytest.mark.expect_log(
    "app.services.tasks", r"background task two did not stop within the", level="ERROR"
)
async def test_a_child_reports_to_its_parent_and_the_parent_bounds_the_whole_shutdown(caplog):
    fake, runs, forever = FakeTime(), [], asyncio.Event()
    owner = TaskOwner(clock=fake.clock, sleep=fake.sleep)
    child = owner.child()
    child.spawn(flaky(1, runs, forever), "iot-command-audit", restart=True)
    await until(lambda: len(runs) == 2, what="the restart")
    assert owner.running == ["iot-command-audit"] and owner.restarts == child.restarts == 1

    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # refuses to stop

    stuck = [owner.spawn(stubborn(), name) for name in ("one", "two")]
    await asyncio.sleep(0)  # both started
    try:
        await owner.shutdown(timeout_s=0.05)  # one bound for all: returns though none stops
        assert "two did not stop" in caplog.text and "one did not stop" in caplog.text
        assert "iot-command-audit did not stop" in caplog.text  # its owner never stopped it
    finally:
        release.set()
        await asyncio.gather(*stuck, return_exceptions=True)
