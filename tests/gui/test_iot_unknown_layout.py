"""The Unknown Devices list shows whole device ids (IMEIs), never cut."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.models.iot_devices import UnknownEntry
from app.views.iot_unknown_dialog import UnknownDevicesDialog

pytestmark = pytest.mark.gui

IMEI = "356938035643809"


def test_the_device_id_column_fits_the_whole_imei(qtbot, context):
    dialog = UnknownDevicesDialog(context, lambda: None)
    qtbot.addWidget(dialog)
    dialog.show()
    seen = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    long_address = "[2001:db8:85a3::8a2e:370:7334]:50123"
    dialog._show([UnknownEntry(1, IMEI, "gl200-binary", long_address, seen, seen, 12_345)], [])
    table = dialog.table
    metrics = table.fontMetrics()
    for column in range(table.columnCount() - 1):  # the last one stretches anyway
        text = table.item(0, column).text()
        assert table.columnWidth(column) > metrics.horizontalAdvance(text), text
    # ... and all of them are on screen without scrolling sideways.
    assert table.horizontalHeader().length() <= table.viewport().width()
    assert table.horizontalScrollBar().maximum() == 0
    dialog.close()


def test_a_device_on_the_wrong_port_says_what_to_change_when_selected(qtbot, context):
    dialog = UnknownDevicesDialog(context, lambda: None)
    qtbot.addWidget(dialog)
    dialog.show()
    seen = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    hint = (
        "looks like GT06 on the Teltonika port (5027): "
        "set the device to port 5023 or register it with protocol gt06"
    )
    dialog._show(
        [
            UnknownEntry(1, IMEI, "teltonika", "10.0.0.7:4000", seen, seen, 3),
            UnknownEntry(2, "864717003283581", "gt06", "10.0.0.8:4100", seen, seen, 1, hint),
        ],
        [],
    )
    table = dialog.table
    assert table.item(1, 5).text() == "1 · wrong port" and table.item(1, 0).toolTip() == hint
    assert table.item(0, 5).text() == "3" and not dialog.note.isVisible()
    table.selectRow(1)
    assert dialog.note.isVisible() and dialog.note.text() == f"864717003283581 {hint}"
    table.selectRow(0)
    assert not dialog.note.isVisible()
    # the hint never widens the table past the screen
    assert table.horizontalScrollBar().maximum() == 0
    dialog.close()
