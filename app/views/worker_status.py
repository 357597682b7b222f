"""The status-bar indicator of background work: the supervisor's truth, not a guess.

"Workers: 9 running" while all is well; in red "iot-ingest stopped: OSError: ...,
restarting in 4 s" while a task is down, until it recovers. Without it a dead worker
looked exactly like a quiet fleet (scooters stayed "Online", nothing said anything).
It is pushed to by :meth:`TaskOwner.subscribe` and ticks once a second only for the
restart countdown.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.services.tasks import TaskOwner

ERROR_STYLE = "color: #c62828"
COUNTDOWN_MS = 1_000


def describe(tasks: TaskOwner | None) -> tuple[str, bool]:
    """The label text and whether it is an error."""
    if tasks is None:
        return "Workers: none running", False
    failures = tasks.failures()
    if not failures:
        return f"Workers: {len(tasks.running)} running", False
    name = min(failures)
    text = f"{name} stopped: {failures[name]}"
    retry = tasks.retry_in(name)
    text += ", not restarted" if retry is None else f", restarting in {retry:.0f} s"
    if len(failures) > 1:
        text += f" (+{len(failures) - 1} more down)"
    return text, True


class WorkerStatusLabel(QLabel):
    """A permanent status-bar label following one TaskOwner (set with ``watch``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workerStatus")
        self._tasks: TaskOwner | None = None
        self._countdown = QTimer(self)
        self._countdown.setInterval(COUNTDOWN_MS)
        self._countdown.timeout.connect(self.refresh)
        self.refresh()

    def watch(self, tasks: TaskOwner) -> None:
        self._tasks = tasks
        unsubscribe = tasks.subscribe(self.refresh)
        # The owner outlives the window; a dead label must not be called any more.
        self.destroyed.connect(lambda _obj=None: unsubscribe())
        self.refresh()

    def refresh(self) -> None:
        text, error = describe(self._tasks)
        self.setText(text)
        self.setStyleSheet(ERROR_STYLE if error else "")
        self.setToolTip("\n".join(f"{n}: {r}" for n, r in self._failures().items()))
        if error and not self._countdown.isActive():
            self._countdown.start()
        elif not error:
            self._countdown.stop()

    def _failures(self) -> dict[str, str]:
        return self._tasks.failures() if self._tasks is not None else {}
