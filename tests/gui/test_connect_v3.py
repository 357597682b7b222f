"""Connect Car on Smartcar API V3 (the default) in the real embedded view: the car is
linked by its Smartcar user id with no token stored anywhere, subscribed to the demo
webhook, and its data arrives by webhook with no poll at all. The Connections window
shows the subscription and the receiver, refusals included."""

from __future__ import annotations

import json

import httpx
import pytest

from app.config import DemoSettings, Settings, SmartcarSettings
from app.integrations.smartcar.webhooks import sign
from app.services.tasks import TaskOwner
from app.views.item_models.vehicle_table_model import Column
from app.views.live_updates import LiveUpdates
from tests.gui.connect_helpers import allow, badge, cars, free_port, open_connect
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


@pytest.fixture
def settings():
    redirect = f"http://127.0.0.1:{free_port()}/smartcar/callback"
    return Settings(
        demo=DemoSettings(cars=4, micromobility=0),
        smartcar=SmartcarSettings(redirect_uri=redirect),  # api_version "3" by default
    )


@pytest.fixture
def receiving(qloop, context, backends):
    """The telemetry writer and the webhook worker under the supervisor, as the console
    runs them, and nothing that polls: whatever data arrives came by webhook."""
    assert context.webhooks is not None and context.telemetry_writer is not None
    tasks = TaskOwner()
    writer = context.telemetry_writer

    async def start() -> None:
        tasks.spawn(writer.run, "telemetry-writer", restart=True, drain=writer.flush)
        tasks.spawn(context.webhooks.run, "smartcar-webhooks", restart=True)
        await until(lambda: backends.webhook_id is not None, what="the webhook")

    qloop.run_until_complete(start())
    yield context.webhooks
    qloop.run_until_complete(tasks.shutdown())


@pytest.mark.expect_log("app.integrations.smartcar.webhook_receiver", match="refused")
async def test_connect_on_v3_subscribes_the_car_and_its_data_arrives_by_webhook(
    backends, window, receiving
):
    live = LiveUpdates(window.fleet, window.context.vehicles)  # as main.py wires it
    window.context.telemetry_writer.commits.subscribe(live.vehicles_changed)
    car = cars(window)[0]
    panel = window.connections.panel
    dialog = await open_connect(window, car.id)
    await allow(dialog, "owner@v3.test")
    await until(lambda: panel.status.text() == "● Active", what="Active status")
    await until(lambda: badge(window, car.id) == "Smartcar · Active", what="the list badge")

    service = window.context.connections
    record = await service.connection_for(car.id)
    assert record.v3 and record.smartcar_user_id  # from the Connect redirect
    assert service.repository.tokens(record.id) is None and record.access_expires_at is None

    # FIRST_DELIVERY fills the fleet list; nothing polls in this console
    position = window.model.position_of(car.id)
    odometer = window.model.index(position, Column.ODOMETER)
    await until(lambda: odometer.data(), what="the odometer pushed by webhook")
    pushed = await service.connection_for(car.id)
    assert pushed.last_delivery_at is not None and pushed.requests_this_month == 0
    assert panel.values["token_expiry"].text() == "application token (none per car)"
    assert panel.values["webhook"].text().startswith("subscribed")

    window.connections.action.trigger()
    view = window.connections.view
    await until(lambda: view.table.rowCount() == 1, what="the view rows")
    assert view.table.item(0, 6).text() == "V3"
    assert view.table.item(0, 7).text().startswith("subscribed, last push")
    assert view.table.item(0, 8).text() == "application token"
    url = receiving.receiver.url
    assert f"listening on {url}" in view.receiver.text() and " 0 refused" in view.receiver.text()

    # a forged delivery is refused and the operator sees it, with no store
    body = json.dumps({"eventId": "forged", "eventType": "VEHICLE_STATE", "data": {}}).encode()
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            url,
            content=body,
            headers={"content-type": "application/json", "SC-Signature": sign("wrong", body)},
        )
    assert answer.status_code == 401
    await until(lambda: " 1 refused" in view.receiver.text(), what="the refusal on screen")
    assert "401 SC-Signature does not match the body" in view.receiver.text()
    assert "color" in view.receiver.styleSheet()  # needs attention: a refusal this hour
    assert receiving.status().counts.get("stored", 0) >= 1
    view.close()


async def test_a_receiver_that_is_not_listening_is_shown(backends, window):
    window.connections.action.trigger()
    view = window.connections.view
    await until(lambda: view.receiver.text(), what="the receiver line")
    assert view.receiver.text().startswith("Webhook receiver: not listening")
    await until(lambda: view.table.rowCount() == 0 and view.summary.text(), what="the rows")
    view.close()
