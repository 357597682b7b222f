"""The status bar tells the supervisor's truth; File → Quit and Ctrl+Q request the quit."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.services.tasks import TaskOwner
from app.views.worker_status import ERROR_STYLE
from tests.helpers.waiting import until


async def test_a_worker_down_shows_in_red_with_its_reason_until_it_recovers(window):
    release, runs = asyncio.Event(), []

    async def held(_seconds: float) -> None:
        await release.wait()  # the backoff: over when the test says so

    async def ingest() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise OSError("database is locked")
        await asyncio.Event().wait()

    tasks = TaskOwner(sleep=held)
    label = window.worker_status
    label.watch(tasks)
    assert label.text() == "Workers: 0 running"
    tasks.spawn(asyncio.Event().wait, "telemetry-writer", restart=True)
    tasks.spawn(ingest, "iot-ingest", restart=True)
    try:
        await until(lambda: "stopped" in label.text(), what="the failure shown")
        assert label.text().startswith("iot-ingest stopped: OSError: database is locked")
        assert "restarting in 1 s" in label.text() and label.styleSheet() == ERROR_STYLE
        release.set()
        await until(lambda: label.text() == "Workers: 2 running", what="the recovery")
        assert label.styleSheet() == "" and tasks.restarts == 1
    finally:
        await tasks.shutdown()


async def test_ctrl_q_and_file_quit_request_the_quit(window):
    requested: list[bool] = []
    window.quit_requested.connect(lambda: requested.append(True))
    actions = [a for a in window.file_menu.actions() if not a.isSeparator()]
    assert actions[-1] is window.quit_action and window.quit_action.text() == "&Quit"
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: requested, what="Ctrl+Q")
    assert not window.isVisible()
