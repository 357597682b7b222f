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
