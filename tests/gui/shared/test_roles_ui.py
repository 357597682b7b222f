"""The console follows the signed-in person's role (issue #18): what the role lacks is
disabled with the reason, and a refusal by the database reads as a message."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.config import Settings
from app.models.database import Database
from app.models.errors import PermissionRefused
from app.models.iot_devices import IotDeviceRepository
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.wiring.bootstrap import open_context
from app.views.main_window import MainWindow
from tests.helpers.people import person
from tests.helpers.waiting import until

SCOOTER = VehicleFields(
    name="Shared scooter",
    fleet_number="SH-1",
    kind="scooter",
    imei="861234567890123",
    connection_type="iot",
    iot_vendor="OKAI",
    iot_protocol="okai",
)


@pytest.fixture
def fleet_url(pg_url: str) -> str:
    with Database(pg_url) as db:
        db.migrate()
        VehicleRepository(db).add(SCOOTER)
        VehicleRepository(db).add(VehicleFields(name="Focus", fleet_number="C-1", kind="car"))
    return pg_url


async def test_a_viewer_sees_unlock_and_editing_disabled_with_the_reason(
    qtbot, tmp_path, postgres, fleet_url
):
    with person(postgres, fleet_url, "viewer") as (login, url):
        context = open_context(Settings(), resolve_paths(tmp_path / "c").ensure(), db_url=url)
        window = MainWindow(context)
        qtbot.addWidget(window)
        try:
            assert window.signed_in_label.text() == f"Signed in: {login} (Viewer)"
            window.show()
            window.reload()
            await until(lambda: window.model.rowCount() == 2, what="the fleet list")
            [row] = [r for r in window.model.rows if r.connection_type == "iot"]
            window.select_vehicle(row.id)
            unlock = window.iot.panel.buttons["unlock"]
            await until(lambda: unlock.toolTip() != "", what="the Unlock button's reason")
            assert not unlock.isEnabled()
            assert unlock.toolTip() == (
                f"{login} is signed in as Viewer: sending commands needs the Dispatcher role"
            )
            assert not window.edit_action.isEnabled()
            assert not window.add_action.isEnabled()
            assert "needs the Fleet manager role" in window.add_action.toolTip()
            assert window.add_vehicle() is None  # its shortcut does nothing either
            [car] = [r for r in window.model.rows if r.kind == "car"]
            window.select_vehicle(car.id)
            connect = window.connections.panel.connect_button
            await until(lambda: connect.toolTip() != "", what="Connect Car's reason")
            assert not connect.isEnabled()
            assert "connecting and disconnecting cars needs the Dispatcher role" in (
                connect.toolTip()
            )
            assert window.connections.panel.start_connect() is None
        finally:
            window.close()
            context.close()


async def test_a_refusal_by_the_database_is_a_message_not_sql(postgres, fleet_url):
    """What a person revoked mid-shift, or a console whose role changed, runs into."""
    with person(postgres, fleet_url, "dispatcher") as (login, url), Database(url) as db:
        db.check_access()
        repository = VehicleRepository(db)
        [row] = [r for r in repository.list_rows() if r.kind == "scooter"]
        with pytest.raises(PermissionRefused) as refused:
            repository.update(row.id, replace(SCOOTER, name="Renamed"))
        text = str(refused.value)
        assert text.startswith(f"The database refused this for {login} (Dispatcher): ")
        assert "permission denied for table vehicle" in text
        assert "SQL" not in text and "UPDATE" not in text
        with pytest.raises(PermissionRefused):
            IotDeviceRepository(db).record_serial("861234567890123", "/dev/ttyUSB0", 9600)


async def test_a_dispatcher_commands_an_iot_scooter_through_the_collector(
    qtbot, tmp_path, postgres, fleet_url
):
    """A shared console runs no IoT gateway: the scooter's lock and unlock are the Remote
    commands panel's (queued for the collector), and the device panel says so."""
    with person(postgres, fleet_url, "dispatcher") as (_login, url):
        context = open_context(Settings(), resolve_paths(tmp_path / "c").ensure(), db_url=url)
        window = MainWindow(context)
        qtbot.addWidget(window)
        try:
            window.show()
            window.reload()
            await until(lambda: window.model.rowCount() == 2, what="the fleet list")
            window.select_vehicle(next(r.id for r in window.model.rows if r.kind == "scooter"))
            panel = window.operations.commands_panel
            await until(panel.isVisible, what="the Remote commands panel")
            assert panel.lock_button.isEnabled() and panel.unlock_button.isEnabled()
            device_lock = window.iot.panel.buttons["lock"]
            assert not device_lock.isEnabled()
            assert "under Remote commands" in device_lock.toolTip()
        finally:
            window.close()
            context.close()
