"""The real console (``main.main``, demo mode, every simulator) with a shift driven inside.

``run_console_with(driver, data_dir)`` starts the console exactly as an operator does,
in this process: main.py's start-up order, its one qasync loop, its log file. The driver
coroutine starts once the background workers are (a pass-through wrapper around
``start_workers`` hands it the window, the context and the task owner), then File → Quit
ends the run the operator's way, and everything after it (every task awaited, the
simulators stopped, the database closed) is timed until ``main`` returns.

A Qt-timer watchdog ends a run whose driver stopped making progress: a coroutine that
nests an event loop loses the other tasks' wake-ups for good ("Cannot enter into task"),
the driver's included, and the report then names the step it was stuck in.

``python -m tests.helpers.shift_console --data-dir DIR --report FILE`` runs one shift
(tests/gui/test_shift.py runs it in a fresh process and reads the report).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STEP_TIMEOUT_S = 75.0  # one step at most (its own waits give up after 30 s each)
WATCHDOG_GRACE_S = 30.0  # beyond that, the driver itself was lost
READY_TIMEOUT_S = 300.0  # start-up until every simulated device is online
WATCHDOG_MS = 1000

logger = logging.getLogger("tests.shift")


@dataclass
class Step:
    name: str
    ok: bool
    error: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    """What one console run saw; JSON for the shift test, numbers for the soak."""

    steps: list[Step] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    log_error_count: int = 0
    baseline_tasks: list[str] = field(default_factory=list)
    tasks_left: list[str] = field(default_factory=list)
    restarts: int = 0
    exit_code: int | None = None
    quit_s: float | None = None
    stuck_in: str = ""

    def failures(self) -> list[Step]:
        return [s for s in self.steps if not s.ok]


class ErrorTally(logging.Handler):
    """Every ERROR record, and any record carrying a traceback, of the whole run."""

    KEEP = 50

    def __init__(self, report: Report) -> None:
        super().__init__(logging.DEBUG)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR and record.exc_info is None:
            return
        self.report.log_error_count += 1
        if len(self.report.log_errors) < self.KEEP:
            kind = f" [{record.exc_info[0].__name__}]" if record.exc_info else ""
            self.report.log_errors.append(
                f"{record.levelname} {record.name}: {record.getMessage()[:300]}{kind}"
            )


@dataclass
class ShiftSession:
    """The running console as the driver sees it."""

    window: Any
    context: Any
    owner: Any
    answerer: Any
    report: Report
    step_name: str = "start-up"
    step_deadline: float = 0.0
    quitting: bool = False
    quit_at: float | None = None

    async def step(self, name: str, action: Callable[[], Awaitable[object]]) -> bool:
        """Run one step in a task of its own and record how it went.

        A failed step does not end the shift. A step whose task was lost to a nested event
        loop never finishes; it is given up after STEP_TIMEOUT_S and the next one runs.
        """
        self.step_name, began = name, time.monotonic()
        self.step_deadline = began + STEP_TIMEOUT_S + WATCHDOG_GRACE_S
        task = asyncio.get_running_loop().create_task(action(), name=f"shift: {name}")
        done, _ = await asyncio.wait({task}, timeout=STEP_TIMEOUT_S)
        took = time.monotonic() - began
        if not done:
            task.cancel()
            error = f"no progress for {STEP_TIMEOUT_S:.0f} s: its task was lost"
        elif (exc := task.exception()) is None:
            error = ""
        else:
            error = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AssertionError):  # the console's own error, not a finding
                error += "\n" + "".join(traceback.format_exception(exc, limit=-6))
        self.report.steps.append(Step(name, not error, error, took))
        logger.info("shift step %r: %s (%.1f s)", name, error or "ok", took)
        return not error

    def quit(self) -> None:
        """File → Quit; without that action, closing the main window quits too."""
        from tests.helpers.shift import quit_action

        if self.quitting:
            return
        self.quitting, self.quit_at = True, time.perf_counter()
        action = quit_action(self.window)
        if action is None:
            self.report.steps.append(Step("quit", False, "no File → Quit (Ctrl+Q) action"))
            self.window.close()
        else:
            self.report.steps.append(Step("quit", True))
            action.trigger()

    def watch(self) -> None:
        """Watchdog tick (Qt timer): end the run if a step stopped making progress."""
        if not self.quitting and self.step_deadline and time.monotonic() > self.step_deadline:
            self.report.stuck_in = self.step_name
            self.report.steps.append(
                Step(self.step_name, False, "the shift's driver coroutine was lost")
            )  # fmt: skip
            self.quit()


Driver = Callable[[ShiftSession], Awaitable[None]]


async def _drive(session: ShiftSession, driver: Driver) -> None:
    from tests.helpers.waiting import until

    window, context = session.window, session.context
    session.step_deadline = time.monotonic() + READY_TIMEOUT_S

    def ready() -> bool:
        iot = context.iot.current
        if window.model.rowCount() == 0 or iot is None:
            return False
        wanted = iot.simulator.device_count if iot.simulator else 0
        return len(iot.gateway.sessions) >= wanted

    try:
        await until(ready, READY_TIMEOUT_S, "the fleet list and every simulated device online")
        session.report.baseline_tasks = session.owner.running
        await driver(session)
    except Exception as exc:
        session.report.steps.append(Step(session.step_name, False, f"{exc!r}"))
    finally:
        session.quit()


def run_console_with(driver: Driver, data_dir: Path, settings_toml: str = "") -> Report:
    """Run the console on ``data_dir`` until the driver is done and Quit has finished."""
    import app.services.wiring.workers as workers
    import main

    report = Report()
    tally = ErrorTally(report)
    logging.getLogger().addHandler(tally)
    config = data_dir / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(settings_toml, encoding="utf-8")
    real_start_workers = workers.start_workers
    sessions: list[ShiftSession] = []
    keep: list[Any] = []

    def start_workers_and_driver(context: Any, tasks: Any) -> Any:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from app.views.main_window import MainWindow
        from tests.helpers.dialog_answerer import DialogAnswerer

        started = real_start_workers(context, tasks)
        loop = asyncio.get_running_loop()
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        answerer = DialogAnswerer(loop)
        answerer.start()
        session = ShiftSession(window, context, tasks, answerer, report)
        sessions.append(session)
        watchdog = QTimer()
        watchdog.setInterval(WATCHDOG_MS)
        watchdog.timeout.connect(session.watch)
        watchdog.start()
        keep.extend([watchdog, loop.create_task(_drive(session, driver), name="shift driver")])
        return started

    workers.start_workers = start_workers_and_driver
    try:
        report.exit_code = main.main(["--data-dir", str(data_dir)])
    finally:
        workers.start_workers = real_start_workers
        logging.getLogger().removeHandler(tally)
    finished = time.perf_counter()
    for session in sessions:
        session.answerer.stop()
        report.answered = [a.describe() for a in session.answerer.answered]
        report.tasks_left = session.owner.running
        report.restarts = getattr(session.owner, "restarts", 0)
        if session.quit_at is not None:
            report.quit_s = finished - session.quit_at
    for item in keep:
        if hasattr(item, "stop"):
            item.stop()
    return report


async def one_shift(session: ShiftSession) -> None:
    """The shift test: every action of issue #13 once, then the health checks."""
    from tests.helpers import shift

    window = session.window
    car, one_sample, long_history = shift.cars(window)[:3]
    await window.context.database.run(shift.seed_history, window, one_sample.id, long_history.id)
    await shift_round(session, car.id, shift.scooters(window)[0].id, one_sample.id, long_history.id)
    await session.step(
        "every background task alive",
        lambda: _alive(session),
    )


async def shift_round(
    session: ShiftSession, car: int, scooter: int, one_sample: int, long_history: int
) -> None:
    """The shift's actions in an operator's order (the soak repeats exactly this)."""
    from tests.helpers import shift

    window, answerer, step = session.window, session.answerer, session.step
    await step("connect a car in the embedded Connect", lambda: shift.connect_car(window, car))
    await step("lock and unlock the car", lambda: shift.lock_unlock_car(window, answerer, car))
    await step("start and end a rental", lambda: shift.rental_round_trip(window, car))
    await step("lock a scooter", lambda: shift.lock_scooter(window, answerer, scooter))
    await step(
        "zoom the map out with a vehicle selected",
        lambda: shift.map_overview(window, car, lambda: window.live_updates.refreshed),
    )
    await step(
        "charts of a one-sample and a long history",
        lambda: shift.open_charts(window, one_sample, long_history),
    )
    await step("open every tool window", lambda: shift.open_tool_windows(window, answerer))
    await step("IoT samples still arriving", lambda: shift.iot_samples_arriving(window))


async def _alive(session: ShiftSession) -> None:
    from tests.helpers.shift import assert_background_alive

    await assert_background_alive(session.owner, session.report.baseline_tasks)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    report = run_console_with(one_shift, args.data_dir)
    args.report.write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
