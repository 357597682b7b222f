"""A shared-mode console sees what the collector commits, within a second, without polling."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from PySide6.QtWidgets import QLabel

from app.config import Settings
from app.models.iot_devices import Heard, IotDeviceRepository, UnknownSighting
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryReading
from app.services.vehicles.validation import luhn_complete
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import Mode
from app.services.wiring.workers import start_workers
from app.views.main_window import MainWindow
from tests.gui.shared.rig import shared_rig
from tests.helpers.waiting import until


async def test_a_collector_commit_reaches_the_console_list_within_a_second(qtbot, tmp_path, pg_url):
    async with shared_rig(qtbot, tmp_path, pg_url) as rig:
        window = rig.window
        assert rig.console.mode is Mode.SHARED
        # No poller: only its desktop notifications of the collector's alerts.
        workers = start_workers(rig.console, rig.console_tasks).names
        assert workers == ["collector-alerts", "notifications"]
        vehicle_id = VehicleRepository(rig.console.database).add(
            VehicleFields(name="Shared scooter", fleet_number="SH-1", kind="scooter")
        )
        await rig.show(1)
        await rig.listen()
        assert window.workers_label.text() == "Live updates: on"

        writer = rig.collector.telemetry_writer
        assert writer is not None
        committed: list[float] = []
        writer.commits.subscribe(lambda _ids: committed.append(time.monotonic()))
        rig.start_collector_writes()
        now = datetime.now(UTC)
        writer.submit(
            TelemetryReading(vehicle_id, "iot", now, now, lat=52.5, lon=13.4, battery=42.0)
        )

        def shown_battery() -> float | None:
            position = window.model.position_of(vehicle_id)
            return None if position is None else window.model.rows[position].battery_pct

        await until(lambda: shown_battery() == 42.0, 5, "the new reading in the list")
        assert time.monotonic() - committed[0] < 1.0
        assert window.change_feed is not None and window.change_feed.received >= 1

        # Notifications: this desktop's (no tray offscreen); the e-mail is the collector's.
        window.operations.actions["notifications"].trigger()
        view = window.operations._views["notifications"]
        assert view.channels.text() == (
            "E-mail: sent by the collector of this shared database\n"
            "Desktop: unavailable, no system tray on this desktop"
        )
        assert not view.test_button.isEnabled()
        assert view.test_button.toolTip() == "E-mail: sent by the collector of this shared database"


async def test_export_action_writes_a_review_file_from_the_shared_database(qtbot, tmp_path, pg_url):
    from app.services.telemetry.review_export import ExportRequest

    context = open_context(Settings(), resolve_paths(tmp_path / "console").ensure(), db_url=pg_url)
    window = MainWindow(context)
    qtbot.addWidget(window)
    try:
        VehicleRepository(context.database).add(
            VehicleFields(name="Exported", fleet_number="EX-1", kind="car")
        )
        assert window.review_export.action.isEnabled()
        summary = await window.review_export.export(tmp_path / "out.sqlite", ExportRequest())
        assert summary is not None and summary.rows["vehicle"] == 1
        assert "Exported 1 vehicles" in window.statusBar().currentMessage()
    finally:
        window.close()
        context.close()


async def test_a_status_the_collector_derives_reaches_the_console_list(qtbot, tmp_path, pg_url):
    """Statuses are written by whoever runs the alert evaluation (the collector in shared
    mode); its publisher must tell the consoles, or their list keeps the old status."""
    from tests.helpers.rentals import open_rental

    async with shared_rig(qtbot, tmp_path, pg_url) as rig:
        vehicle_id = VehicleRepository(rig.console.database).add(
            VehicleFields(name="Shared car", fleet_number="SH-2", kind="car")
        )
        await rig.show(1)
        await rig.listen()
        rig.start_collector_writes()
        open_rental(rig.collector.database, vehicle_id)
        await rig.collector.alerts.evaluate([vehicle_id])

        def shown_status() -> str | None:
            position = rig.window.model.position_of(vehicle_id)
            return None if position is None else rig.window.model.rows[position].status

        await until(lambda: shown_status() == "in_use", 5, "the derived status in the list")


async def test_a_device_the_collector_hears_is_shown_as_reporting_in_the_console_panel(
    qtbot, tmp_path, pg_url
):
    """The console runs no gateway: what the collector learnt about the device (its
    protocol, when it last heard it) is read from the device's row as the reports come."""
    async with shared_rig(qtbot, tmp_path, pg_url) as rig:
        imei = luhn_complete("86000000000077")
        vehicle_id = VehicleRepository(rig.console.database).add(
            VehicleFields(
                name="Shared bike", fleet_number="SH-7", kind="ebike", imei=imei,
                connection_type="iot", iot_vendor="teltonika",
            )
        )  # fmt: skip
        await rig.show(1)
        await rig.listen()
        assert rig.window.select_vehicle(vehicle_id)
        panel = rig.window.detail.iot_panel
        assert panel is not None
        await until(lambda: panel.device is not None, what="the device's row")
        assert panel.values["online"].text() == "Not heard yet (the collector runs the devices)"
        assert panel.values["protocol"].text() == "not known yet"
        assert not panel.frame_log.isVisibleTo(panel)  # no empty list of frames it never sees
        assert panel.findChild(QLabel, "iot_frames_elsewhere").isVisibleTo(panel)

        # The collector hears the device: its row first, then the report's commit.
        now = datetime.now(UTC)
        IotDeviceRepository(rig.collector.database).record_heard(
            {imei: Heard(now, "203.0.113.9:40112", "teltonika", firmware="03.28.07")}
        )
        writer = rig.collector.telemetry_writer
        assert writer is not None
        rig.start_collector_writes()
        writer.submit(TelemetryReading(vehicle_id, "iot", now, now, lat=52.5, lon=13.4))

        await until(
            lambda: panel.values["protocol"].text() == "teltonika", 5, "the learnt protocol"
        )
        assert panel.values["online"].text() == "Reporting (through the collector)"
        assert panel.values["firmware"].text() == "03.28.07"
        assert panel.values["heard"].text() == "just now"


async def test_tasks_the_collector_or_another_console_write_reach_the_console_at_once(
    qtbot, tmp_path, pg_url
):
    """The Tasks window, the quick-list count and the map's open-task filter follow the
    field_task notices, well within their 30 s safety re-read."""
    other = open_context(Settings(), resolve_paths(tmp_path / "other").ensure(), db_url=pg_url)
    try:
        async with shared_rig(qtbot, tmp_path, pg_url) as rig:
            window, collector = rig.window, rig.collector
            assert collector.tasks is not None and other.tasks is not None
            writer = collector.telemetry_writer
            assert writer is not None
            scooter = VehicleRepository(rig.console.database).add(
                VehicleFields(name="Task scooter", fleet_number="TS-1", kind="scooter")
            )
            await rig.show(1)
            await rig.listen()
            tasks_window = window.operations.show_tasks()
            assert tasks_window is not None
            window.quick_lists.map_open_tasks.setChecked(True)
            rig.collector_tasks.spawn(writer.run(), "writer")
            committed = asyncio.Event()
            writer.commits.subscribe(lambda _ids: committed.set())
            now = datetime.now(UTC)
            writer.submit(
                TelemetryReading(scooter, "iot", now, now, lat=52.5, lon=13.4, battery=8.0)
            )
            await asyncio.wait_for(committed.wait(), 10)

            [task_id] = await collector.tasks.evaluate([scooter])
            await until(
                lambda: [t.id for t in tasks_window.rows] == [task_id], 5, "the rule's task"
            )
            await until(lambda: window.quick_lists.count("open_tasks") == 1, 5, "the count")
            assert window.telemetry_views._map_only == frozenset({scooter})

            await other.tasks.move(task_id, "cancelled")  # another dispatcher's console
            await until(lambda: tasks_window.rows == [], 5, "the cancelled task leaving the list")
            await until(lambda: window.quick_lists.count("open_tasks") == 0, 5, "the count")
            assert window.telemetry_views._map_only == frozenset()
    finally:
        other.close()


async def test_a_shared_console_claims_an_unknown_device_the_collector_then_stores(
    qtbot, tmp_path, pg_url
):
    """The collector runs the gateway, so the console claims in the database alone; the
    collector's next index refresh knows the device and drops it from its inbox."""
    async with shared_rig(qtbot, tmp_path, pg_url) as rig:
        imei = luhn_complete("86000000000099")
        now = datetime.now(UTC)
        collector_devices = IotDeviceRepository(rig.collector.database)
        collector_devices.record_unknown(
            {(imei, "gt06"): UnknownSighting("127.0.0.1:40100", now, now, 3)}
        )
        writer = rig.collector.telemetry_writer
        assert writer is not None
        ingest = IotIngest(rig.collector.database, writer)
        await ingest.refresh()
        assert not ingest.is_known(imei, "gt06")
        vehicle_id = VehicleRepository(rig.console.database).add(
            VehicleFields(name="Stray bike", fleet_number="SB-1", kind="ebike")
        )
        rig.window.show()
        rig.window.iot.unknown_action.trigger()
        dialog = rig.window.iot.dialog
        assert dialog is not None
        await until(lambda: dialog.table.rowCount() == 1, what="the collector's stranger")
        dialog.table.selectRow(0)
        assert dialog.claim_button.isEnabled()  # no gateway in this console, yet claimable
        dialog.target.setCurrentIndex(dialog.target.findData(vehicle_id))
        assert dialog.claim() is None
        await until(lambda: "now belongs" in dialog.status.text(), what="the claim outcome")
        assert "within a minute" in dialog.status.text()
        await until(lambda: dialog.table.rowCount() == 0, what="the inbox emptied")

        await ingest.refresh()  # the collector's periodic re-read
        assert ingest.is_known(imei, "gt06")
        assert ingest.device_for_vehicle(vehicle_id) is not None
        assert [u.device_id for u in collector_devices.list_unknown()] == []
