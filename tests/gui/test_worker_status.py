"""The status bar tells the supervisor's truth; File → Quit and Ctrl+Q request the quit."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.integrations.iot.serial_reader import (
    PortUnavailable,
    SerialConfig,
    SerialReader,
    SerialStatus,
)
from app.integrations.iot.sink import InMemorySink
from app.services.tasks import RestartPolicy, TaskOwner
from app.views.worker_status import ERROR_STYLE
from tests.helpers.plug_port import PlugPort
from tests.helpers.waiting import until


@pytest.mark.expect_log("app.services.tasks", r"background task iot\-ingest crashed", level="ERROR")
@pytest.mark.expect_log("app.services.tasks", r"background task iot\-ingest restarts in")
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


@pytest.mark.expect_log("app.services.tasks", r"background task serial")
async def test_an_unplugged_serial_reader_is_named_in_the_status_bar_until_it_is_back(
    window, tmp_path
):
    port = PlugPort(tmp_path / "ttyUSB0")
    port.plug()
    reader = SerialReader(
        SerialConfig(str(port.link), "gps-1", read_timeout=0.05), InMemorySink({("gps-1", "nmea")})
    )
    tasks = TaskOwner(policy=RestartPolicy(first_s=0.05, max_s=0.2))
    label = window.worker_status
    label.watch(tasks)
    tasks.spawn(reader.run, f"serial {port.link}", restart=True, outages=(PortUnavailable,))
    try:
        await reader.wait_status(SerialStatus.CONNECTED)
        assert label.text() == "Workers: 1 running"
        port.unplug()
        await until(lambda: "stopped" in label.text(), what="the reader shown down")
        assert label.text().startswith(f"serial {port.link} stopped: PortUnavailable: ")
        assert f"{port.link} lost" in label.text() and label.styleSheet() == ERROR_STYLE
        port.plug()
        await until(lambda: label.text() == "Workers: 1 running", what="the reader back")
        await reader.wait_status(SerialStatus.CONNECTED)
    finally:
        await tasks.shutdown()
        if port.master is not None:
            port.unplug()
