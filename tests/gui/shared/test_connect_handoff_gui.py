"""Connect Car in a shared console's real web view: the collector links the car (#18)."""

from __future__ import annotations

import asyncio

import pytest

from app.config import DemoSettings, Settings, SmartcarSettings
from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.simulator import SimulatorConfig, start_simulator
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.connections.backends import (
    DEMO_CLIENT_ID,
    DEMO_OWNER_EMAIL,
    Backends,
    simulator_specs,
    start_backends,
)
from app.services.vehicles.demo_fleet import demo_fleet
from app.services.wiring.bootstrap import assemble, open_database
from app.services.wiring.context import Role
from app.views.main_window import MainWindow
from tests.gui.connect_helpers import allow, click, free_port
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


async def test_connect_car_on_a_shared_console_is_linked_by_the_collector(qtbot, tmp_path, pg_url):
    redirect = f"http://127.0.0.1:{free_port()}/smartcar/callback"
    (spec,) = simulator_specs(demo_fleet(DemoSettings(cars=1, micromobility=0)))[:1]
    sim = await start_simulator(
        SimulatorConfig(
            client_id=DEMO_CLIENT_ID, client_secret="s", redirect_uris=(redirect,), vehicles=[spec]
        )
    )
    origins = SmartcarOrigins.for_simulator(sim.base_url)
    credentials = SmartcarCredentials(DEMO_CLIENT_ID, "s", redirect)
    full = Backends(
        credentials=credentials,
        origins=origins,
        smartcar=SmartcarClient(origins, credentials, api_version="3"),
    )
    settings = Settings(
        smartcar=SmartcarSettings(
            client_id=DEMO_CLIENT_ID, redirect_uri=redirect, connect_origin=origins.connect
        )
    )
    paths = resolve_paths(tmp_path / "console").ensure()
    console = assemble(
        open_database(settings, paths, db_url=pg_url),
        await start_backends(settings, demo=False, offline=False, shared_console=True),
        role=Role.CONSOLE,
    )
    collector = assemble(
        open_database(settings, resolve_paths(tmp_path / "collector").ensure(), db_url=pg_url),
        full,
        role=Role.COLLECTOR,
    )
    assert collector.connect_handoff is not None
    running = asyncio.get_running_loop().create_task(collector.connect_handoff.run())
    window = MainWindow(console)
    qtbot.addWidget(window)
    try:
        vehicle_id = VehicleRepository(console.database).add(
            VehicleFields(name="Focus", fleet_number="F-1", kind="car", vin=spec.vin)
        )
        window.show()
        window.reload()
        await until(lambda: window.model.rowCount() == 1, what="the fleet list")
        panel = window.connections.panel
        assert window.select_vehicle(vehicle_id)
        await until(lambda: panel.connect_button.isEnabled(), what="Connect Car enabled")
        panel.connect_button.click()
        dialog = panel.dialog
        assert dialog is not None
        # The compatibility check needs the secret: the console says so and goes on.
        await until(lambda: "only the collector" in dialog.info.text(), what="the note")
        dialog.continue_button.click()
        await until(lambda: dialog.stage == "web", what="the Connect page")
        await click(dialog.page, f"brand-{spec.make.upper()}")
        await allow(dialog, DEMO_OWNER_EMAIL)
        await until(lambda: panel.status.text() == "● Active", 20, "Active status")
        assert dialog.outcome.startswith("Connected") and spec.vin in dialog.outcome
        assert not panel.refresh_button.isEnabled()  # the collector's job here
        window.connections.action.trigger()
        view = window.connections.view
        await until(lambda: view is not None and view.table.rowCount() == 1, what="the view")
        assert not view.refresh_all.isEnabled() and "collector" in view.refresh_all.toolTip()
    finally:
        window.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        console.close()
        collector.close()
        await full.aclose()
        await sim.stop()
