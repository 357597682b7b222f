"""Managing connections in the console: Disconnect, Refresh now, Reconnect, the
Connections view with bulk Refresh, and background token changes reaching the list."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from app.config import DemoSettings, Settings, SmartcarSettings
from app.services.connections.health import RECONNECT_NEEDED
from app.services.connections.token_refresher import TokenRefresher
from app.views.connection_actions import CONNECTIONS_SHORTCUT
from app.views.item_models.vehicle_table_model import Column
from tests.gui.connect_helpers import allow, badge, cars, free_port, open_connect
from tests.helpers.waiting import until
from tests.integration.integrations.smartcar.connect_walk import walk_connect

pytestmark = pytest.mark.gui


@pytest.fixture
def settings():
    redirect = f"http://127.0.0.1:{free_port()}/smartcar/callback"
    return Settings(
        demo=DemoSettings(cars=4, micromobility=1),
        smartcar=SmartcarSettings(api_version="2.0", redirect_uri=redirect),
    )


async def connect(window, row, email: str = "o@x.test"):
    """Connect through the service (the embedded view is covered in test_connect_car)."""
    service = window.context.connections
    redirect = await asyncio.to_thread(walk_connect, service.begin(row.id, row.vin), email=email)
    auth = await service.complete(redirect)
    record = await service.link(auth, (await service.plan(auth)).match)
    await until(lambda: badge(window, row.id) == "Smartcar · Active", what="badge")
    return record


async def show(window, row):
    panel = window.connections.panel
    loaded: list[int] = []
    panel.loaded.connect(loaded.append)
    assert window.select_vehicle(row.id)
    window.detail.show_vehicle(window.current_row())  # reload even if already selected
    await until(lambda: row.id in loaded, what="the panel to load")
    panel.loaded.disconnect(loaded.append)
    return panel


async def test_disconnect_asks_first_then_wipes_tokens_and_removes_the_badge(
    backends, window, confirmations
):
    car = cars(window)[0]
    record = await connect(window, car)
    panel = await show(window, car)
    assert panel.disconnect_button.isEnabled()
    confirmations.answer = False
    panel.disconnect_button.click()
    await until(lambda: confirmations.asked, what="the confirmation (awaited)")
    assert (
        "Disconnect car" in confirmations.asked[-1] and "history is kept" in confirmations.asked[-1]
    )
    assert (await window.context.connections.connection_for(car.id)).status == "active"
    confirmations.answer = True
    panel.disconnect_button.click()
    await until(lambda: panel.status.text() == "● Disconnected", what="Disconnected")
    await until(lambda: badge(window, car.id) == "Smartcar · not connected", what="badge gone")
    index = window.model.index(window.model.position_of(car.id), Column.CONNECTION)
    assert index.data(Qt.ItemDataRole.DecorationRole) is None  # no coloured status badge
    after = await window.context.connections.connection_for(car.id)
    assert after.id == record.id and not after.can_call
    assert panel.connect_button.text() == "Connect Car"
    assert not panel.refresh_button.isEnabled() and not panel.disconnect_button.isEnabled()


async def test_refresh_now_emits_the_poll_hook_and_updates_last_sync(backends, window):
    car = cars(window)[1]
    record = await connect(window, car)
    service = window.context.connections
    service.repository.mark_synced(
        record.id, datetime.now(UTC) - timedelta(hours=3), list(record.granted_scopes), "active", ""
    )
    panel = await show(window, car)
    assert panel.values["last_sync"].text() == "3 h ago"
    requested: list[int] = []
    panel.refresh_requested.connect(requested.append)
    panel.refresh_button.click()
    assert requested == [car.id]
    await until(lambda: panel.values["last_sync"].text() == "just now", what="last sync")
    assert "Refreshed" in panel.message.text()


async def test_expiry_from_the_background_job_reaches_panel_and_list(backends, window):
    car = cars(window)[2]
    record = await connect(window, car)
    service = window.context.connections
    enc = service.repository.tokens(record.id)
    await backends.smartcar.auth.refresh(service.cipher.decrypt(enc.refresh))  # ours now dead
    panel = await show(window, car)
    later = lambda: datetime.now(UTC) + timedelta(hours=2)  # noqa: E731
    service.tokens._clock = later
    assert (await TokenRefresher(service, clock=later).run_once()).expired == 1
    await until(lambda: badge(window, car.id) == "Smartcar · Expired", what="Expired badge")
    await until(lambda: panel.status.text() == "● Expired", what="Expired panel")
    assert panel.reason.text() == RECONNECT_NEEDED
    assert panel.connect_button.text() == "Reconnect" and panel.connect_button.isEnabled()
    # Reconnect: same car, same row, history kept; Active again.
    dialog = await open_connect(window, car.id)
    await allow(dialog, "o@x.test")
    await until(lambda: panel.status.text() == "● Active", what="Active after Reconnect")
    again = await service.connection_for(car.id)
    assert again.id == record.id and again.connected_at == record.connected_at


async def test_connections_view_lists_problems_first_and_refreshes_in_bulk(backends, window):
    rows = cars(window)
    records = [await connect(window, row) for row in rows[:3]]
    service = window.context.connections
    service.repository.set_status(records[2].id, "error", "Smartcar outage (test)")
    service.repository.disconnect(records[1].id, "gone")
    action = window.connections.action
    assert action.shortcut().toString() == CONNECTIONS_SHORTCUT
    assert action in window.findChild(QToolBar, "vehicleToolbar").actions()
    window.connections.action.trigger()
    view = window.connections.view
    await until(lambda: view.table.rowCount() == 3, what="the view rows")
    statuses = [view.table.item(r, 2).text() for r in range(3)]
    assert statuses == ["Error", "Active", "Disconnected"]
    assert "1 need attention" in view.summary.text()
    assert view.table.item(0, 6).text() == "v2.0" and view.table.item(0, 7).text() == "— (polled)"
    assert view.receiver.text() == (
        "API v2.0: no webhooks; cars are polled within the monthly budget."
    )
    budget = window.context.settings.telemetry.monthly_request_budget
    assert view.table.item(0, 9).text() == f"0 / {budget}"  # billed requests this month
    view.refresh_all.click()
    await until(lambda: view.table.item(0, 2).text() == "Active", what="bulk refresh")
    assert [view.table.item(r, 2).text() for r in range(3)] == ["Active", "Active", "Disconnected"]
    assert "all fine" in view.summary.text()
    chosen: list[int] = []
    view.vehicle_chosen.connect(chosen.append)
    view.table.cellDoubleClicked.emit(0, 0)
    assert chosen and window.current_vehicle_id() == chosen[0]
    view.close()
