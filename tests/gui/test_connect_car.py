"""Connect Car end to end: the real web view on the simulator's Connect pages, the panel,
the list badge, stored scopes and encrypted tokens."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import httpx
import pytest
from PySide6.QtCore import QUrl

from app.config import DemoSettings, Settings, SmartcarSettings
from app.integrations.smartcar.scopes import REQUIRED_SCOPES, connect_scope_param
from app.integrations.smartcar.simulator.specs import make_vin
from app.services.connections.backends import DEMO_OWNER_EMAIL
from tests.gui.connect_helpers import allow, badge, cars, click, free_port, open_connect
from tests.helpers.waiting import until
from tests.integration.integrations.smartcar.connect_walk import walk_connect

pytestmark = pytest.mark.gui


@pytest.fixture
def settings():
    redirect = f"http://127.0.0.1:{free_port()}/smartcar/callback"
    return Settings(
        demo=DemoSettings(cars=5, micromobility=2),
        smartcar=SmartcarSettings(api_version="2.0", redirect_uri=redirect),
    )


def database_bytes(context) -> bytes:
    file = context.database.file
    return b"".join(p.read_bytes() for p in file.parent.glob(f"{file.name}*") if p.is_file())


async def test_connect_car_in_the_embedded_view_links_the_car(backends, window, caplog):
    caplog.set_level(logging.DEBUG)
    car = cars(window)[0]
    panel = window.connections.panel
    assert badge(window, car.id) == ""
    dialog = await open_connect(window, car.id)
    assert dialog.page.profile().isOffTheRecord()
    assert panel.status.text() == "● Pending"
    await allow(dialog, "anyone@owner.test")
    await until(lambda: panel.dialog is None, what="the dialog to close")
    await until(lambda: panel.status.text() == "● Active", what="Active status")
    assert "Connected" in panel.message.text()
    assert panel.values["rentable"].text() == "Yes" and panel.values["missing"].text() == "None"
    assert panel.values["vin"].text() == car.vin
    assert panel.connect_button.text() == "Reconnect"
    await until(lambda: badge(window, car.id) == "Smartcar · Active", what="the list badge")
    # Stored: scopes, and tokens only as ciphertext (database file and log alike).
    service = window.context.connections
    record = await service.connection_for(car.id)
    assert set(REQUIRED_SCOPES) <= set(record.granted_scopes)
    enc = service.repository.tokens(record.id)
    access, refresh = service.cipher.decrypt(enc.access), service.cipher.decrypt(enc.refresh)
    raw = database_bytes(window.context)
    assert access.encode() not in raw and refresh.encode() not in raw
    assert access not in caplog.text and refresh not in caplog.text


async def test_brand_choice_and_several_cars_let_the_operator_pick(backends, window):
    car = cars(window)[1]
    repo = window.context.vehicles.repository
    fields = repo.fields(car.id)
    repo.update(car.id, replace(fields, vin=None))  # VIN unknown
    row = repo.row(car.id)
    window.refresh_vehicle(row)
    dialog = await open_connect(window, car.id)
    await click(dialog.page, f"brand-{car.make.upper()}")
    await allow(dialog, DEMO_OWNER_EMAIL)  # the owner's account holds every demo car
    await until(lambda: dialog.stage == "choose", what="the car choice")
    assert dialog.cars.count() == len(cars(window))
    target = next(i for i in range(dialog.cars.count()) if car.vin in dialog.cars.item(i).text())
    dialog.cars.setCurrentRow(target)
    dialog.add_others.setChecked(True)
    dialog.link_button.click()
    panel = window.connections.panel
    await until(lambda: panel.dialog is None, what="the dialog to close")
    await until(lambda: panel.status.text() == "● Active", what="Active status")
    assert repo.row(car.id).vin == car.vin  # filled from Smartcar
    await until(
        lambda: all(badge(window, c.id) == "Smartcar · Active" for c in cars(window)),
        what="every car's badge",
    )


async def test_deny_gives_a_message_and_changes_nothing(backends, window):
    car = cars(window)[0]
    dialog = await open_connect(window, car.id)
    await allow(dialog, "owner@x.test", decision="deny")
    await until(lambda: dialog.stage == "failed", what="the failure")
    assert "declined" in dialog.info.text() and "Nothing was changed" in dialog.info.text()
    assert await window.context.connections.connection_for(car.id) is None
    dialog.close_button.click()
    panel = window.connections.panel
    await until(lambda: "declined" in panel.message.text(), what="the panel message")
    await until(lambda: panel.status.text() == "● Not connected", what="the status")
    assert badge(window, car.id) == ""


@pytest.mark.expect_log("app.services.connections.service", r"Connect redirect refused: bad state")
async def test_a_forged_redirect_with_a_wrong_state_is_refused(backends, window):
    car = cars(window)[0]
    dialog = await open_connect(window, car.id)
    uri = window.context.connections.redirect_uri
    dialog.view.load(QUrl(f"{uri}?code=stolen&state=forged"))
    await until(lambda: dialog.stage == "failed", what="the refusal")
    assert "state mismatch" in dialog.info.text()
    assert await window.context.connections.connection_for(car.id) is None


async def test_an_incompatible_car_is_stopped_before_connect(backends, window):
    car = cars(window)[2]
    repo = window.context.vehicles.repository
    old_vin = make_vin("JHM", 2012, 42)
    repo.update(car.id, replace(repo.fields(car.id), vin=old_vin))
    window.refresh_vehicle(repo.row(car.id))
    panel = window.connections.panel
    assert window.select_vehicle(car.id)
    await until(lambda: panel.connect_button.isEnabled(), what="Connect Car")
    dialog = panel.start_connect()
    await until(lambda: dialog.stage == "incompatible", what="the compatibility verdict")
    assert "Not compatible" in dialog.info.text() and "2016" in dialog.info.text()
    assert not dialog.continue_button.isEnabled()
    dialog.reject()


async def test_closing_the_dialog_leaves_the_vehicle_as_it_was(backends, window):
    car = cars(window)[0]
    dialog = await open_connect(window, car.id)
    dialog.reject()
    panel = window.connections.panel
    await until(lambda: panel.dialog is None and "closed" in panel.message.text(), what="msg")
    assert await window.context.connections.connection_for(car.id) is None


@pytest.mark.expect_log(
    "app.services.connections.loopback",
    r"loopback redirect listener: refused a request without our st",
)
async def test_system_browser_fallback_with_the_loopback_listener(backends, window):
    car = cars(window)[3]
    opened: list[str] = []
    dialog = await open_connect(window, car.id)
    dialog.open_external = opened.append
    dialog.browser_button.click()
    await until(lambda: dialog.stage == "browser" and opened, what="the browser hand-off")
    redirect = await asyncio.to_thread(walk_connect, opened[0], email="o@x.test")
    callback = redirect.split("?", 1)[0]
    async with httpx.AsyncClient() as http:
        # Any local page can hit the port first; a forged answer must not use the wait up.
        forged = await http.get(f"{callback}?code=forged&state=x")
        page = await http.get(redirect)  # what the browser does with Smartcar's redirect
    assert forged.status_code == 400 and dialog.stage == "browser"
    assert "close this tab" in page.text
    panel = window.connections.panel
    await until(lambda: panel.dialog is None, what="the dialog to close")
    await until(lambda: badge(window, car.id) == "Smartcar · Active", what="the badge")


async def test_missing_permissions_are_named_and_the_car_is_not_rentable(backends, window):
    service = window.context.connections
    service.scopes = connect_scope_param(
        tuple(s for s in REQUIRED_SCOPES if s != "control_security"), ()
    )
    car = cars(window)[4]
    dialog = await open_connect(window, car.id)
    await allow(dialog, "o@x.test")
    panel = window.connections.panel
    await until(lambda: panel.dialog is None, what="the dialog to close")
    await until(lambda: panel.values["rentable"].text() == "No — not rentable", what="flag")
    assert "Control Security: blocks remote lock/unlock" in panel.values["missing"].text()
    assert "Not rentable" in panel.reason.text()
    record = await service.connection_for(car.id)
    assert "control_security" not in record.granted_scopes and record.status == "active"
