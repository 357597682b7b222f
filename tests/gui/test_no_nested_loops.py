"""No modal event loop under qasync: the guard works, and answering the real Unlock box
leaves every background task alive and making progress (issue #13 item 1)."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.config import DemoSettings, Settings, SmartcarSettings
from app.services.tasks import TaskOwner
from app.services.wiring.workers import start_workers
from app.views.main_window import MainWindow
from tests.gui.connect_helpers import free_port
from tests.gui.test_vehicle_commands_panel import connected_car
from tests.helpers.nested_loops import NestedEventLoop
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


@pytest.fixture
def settings():
    redirect = f"http://127.0.0.1:{free_port()}/smartcar/callback"
    return Settings(
        demo=DemoSettings(cars=3, micromobility=2),
        smartcar=SmartcarSettings(api_version="2.0", redirect_uri=redirect),
    )


async def test_the_guard_refuses_exec_and_static_boxes_inside_a_coroutine(nested_loop_guard):
    box = QMessageBox(QMessageBox.Icon.Question, "t", "exec() from a coroutine")
    with pytest.raises(NestedEventLoop):
        box.exec()
    with pytest.raises(NestedEventLoop):
        QMessageBox.question(None, "t", "static box from a coroutine")

    async def slot_like() -> None:  # an asyncSlot's task: its error would only be logged
        box.exec()

    task = asyncio.get_running_loop().create_task(slot_like())
    await asyncio.wait({task})
    assert isinstance(task.exception(), NestedEventLoop)
    assert [v.split(" ", 1)[0] for v in nested_loop_guard.violations] == [
        "QDialog.exec",
        "QMessageBox.question",
        "QDialog.exec",
    ]
    nested_loop_guard.violations.clear()  # caught on purpose: this test passes
    box.deleteLater()


def confirm_box() -> QMessageBox | None:
    for widget in QApplication.topLevelWidgets():
        if (
            isinstance(widget, QMessageBox)
            and widget.objectName() == "confirmBox"
            and (widget.isVisible())
        ):
            return widget
    return None


async def test_answering_the_real_unlock_box_keeps_background_tasks_running(
    qtbot, context, backends, sim
):
    window = MainWindow(context)  # the real confirmation, no injected fake
    qtbot.addWidget(window)
    window.show()
    window.reload()
    await until(lambda: window.model.rowCount() > 0, what="the fleet list")
    tasks = TaskOwner()
    beats: list[int] = []

    async def heartbeat() -> None:
        while True:
            beats.append(len(beats))
            await asyncio.sleep(0.01)

    try:
        start_workers(context, tasks)
        tasks.spawn(heartbeat(), "heartbeat")
        await until(lambda: context.iot.current is not None, what="the IoT gateway")
        row, panel = await connected_car(window, sim, activity="parked", locked=True)
        before = set(tasks.running)
        assert {"iot-gateway", "telemetry-writer", "rental-expiry", "heartbeat"} <= before

        panel.unlock_button.click()
        await until(confirm_box, what="the Unlock confirmation")
        box = confirm_box()
        assert row.name in box.text()
        assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)  # risky
        box.button(QMessageBox.StandardButton.Yes).click()
        await until(lambda: panel.status.text().startswith("Unlocked ✓"), timeout=20, what="ok")

        # Nothing died: every task still runs, and the loop still steps them.
        assert set(tasks.running) == before
        seen = len(beats)
        await until(lambda: len(beats) > seen + 5, what="the heartbeat after the answer")
        assert tasks.failures() == {} and tasks.restarts == 0
    finally:
        window.close()
        await tasks.shutdown()


@pytest.mark.expect_log("app.views.crash_handler", r"unhandled error", level="ERROR")
async def test_the_crash_dialog_opens_without_blocking_the_coroutine(tmp_path):
    from app.views.crash_handler import CrashHandler

    handler = CrashHandler(tmp_path / "console.log", interactive=True)
    try:
        raise ValueError("broken slot")
    except ValueError as exc:
        handler(type(exc), exc, exc.__traceback__)  # returns: open(), not exec()
    box = handler._box
    assert box is not None and box.isVisible() and "broken slot" in box.text()
    handler(ValueError, ValueError("second"), None)  # one box at a time, still counted
    assert handler.errors == 2 and handler._box is box
    box.accept()
    await until(lambda: handler._box is None, what="the box to close")
