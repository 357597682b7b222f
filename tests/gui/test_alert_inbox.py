"""The alert inbox shows acknowledged alerts muted, with who acknowledged them and when."""

from __future__ import annotations

import pytest

from app.config import AlertSettings, DemoSettings, Settings
from app.views.alert_inbox import MUTED
from tests.gui.test_rentals_views import install, report, scooter
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


@pytest.fixture
def settings():
    """No grace period for "unlocked outside a rental", so both alerts are raised at once."""
    return Settings(
        demo=DemoSettings(cars=12, micromobility=8), alerts=AlertSettings(unlocked_grace_s=0)
    )


def raise_two_alerts(context, vehicle_id: int) -> None:
    """Low charge and "unlocked outside a rental" (the scooter was seen locked before)."""
    report(context, vehicle_id, locked=True)
    report(context, vehicle_id, locked=False, battery=5.0)


async def test_acknowledged_alerts_are_muted_with_who_and_when(window, context):
    _, ops = install(context)
    row = scooter(context)
    raise_two_alerts(context, row.id)
    await ops.alerts.evaluate([row.id])
    inbox = window.operations.show_alerts()
    await until(lambda: inbox.table.rowCount() == 2, what="two alerts")
    table = inbox.table
    normal = table.item(0, 0).foreground().color()
    assert normal != MUTED and not table.item(0, 0).font().italic()

    low_charge = next(r for r in range(2) if "charge" in table.item(r, 2).text().lower())
    table.selectRow(low_charge)
    inbox.ack_button.click()
    await until(lambda: "gui-test" in table.item(1, 7).text() + table.item(0, 7).text(), 5, "ack")
    acked = next(r for r in range(2) if table.item(r, 7).text())
    other = 1 - acked
    assert table.item(acked, 7).text().startswith("Acknowledged by gui-test at ")
    for column in range(table.columnCount()):
        item = table.item(acked, column)
        assert item.foreground().color() == MUTED and item.font().italic()
        assert item.toolTip().startswith("Acknowledged by gui-test")
        assert table.item(other, column).foreground().color() != MUTED
        assert not table.item(other, column).font().italic()
    inbox.close()


async def test_the_inbox_window_is_wide_enough_for_its_columns(window, context):
    _, ops = install(context)
    row = scooter(context)
    raise_two_alerts(context, row.id)
    await ops.alerts.evaluate([row.id])
    inbox = window.operations.show_alerts()
    await until(lambda: inbox.table.rowCount() == 2, what="two alerts")
    inbox.resize(500, 400)  # narrower than its columns (the test screen is only 800 px)
    inbox.table.selectRow(0)
    inbox.ack_button.click()
    await until(lambda: inbox.table.item(0, 7).text() or inbox.table.item(1, 7).text(), 5, "ack")
    table = inbox.table
    metrics = table.fontMetrics()
    for r in range(table.rowCount()):
        for column in range(table.columnCount() - 1):
            text = table.item(r, column).text()
            assert table.columnWidth(column) > metrics.horizontalAdvance(text), text
    # Widened after the reload: every column on screen, or as wide as the screen.
    screen = inbox.screen().availableGeometry().width()
    assert table.horizontalHeader().length() <= table.viewport().width() or inbox.width() == screen
    inbox.close()
