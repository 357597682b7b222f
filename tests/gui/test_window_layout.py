"""The main window fits laptop and desktop screens: the detail panel scrolls instead of
growing the window, and the list's key columns are on screen without scrolling."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings, QSize, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QTableView

from app.views.item_models.vehicle_table_model import Column, VehicleTableModel
from app.views.list_layout import initial_size
from app.views.main_window import MainWindow
from app.views.ops_tables import fill, make_table
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

# Available geometry of common screens, a 40 px task bar taken off.
SCREENS = {"1366x768": QRect(0, 0, 1366, 728), "1920x1080": QRect(0, 0, 1920, 1040)}
KEY_COLUMNS = (Column.NAME, Column.STATUS, Column.ENERGY, Column.LAST_HEARD)


def fits(size: QSize, available: QRect) -> bool:
    return size.width() <= available.width() and size.height() <= available.height()


async def drained() -> None:
    """Until Qt has handled what is posted now (layout requests, the resizes they cause):
    a zero timer fires only after the events queued before it."""
    done = asyncio.Event()
    QTimer.singleShot(0, done.set)
    await asyncio.wait_for(done.wait(), 5)


def unscrolled_columns(win: MainWindow) -> list[Column]:
    """The columns wholly inside the list's viewport, scrolled fully left, left to right."""
    header = win.table.horizontalHeader()
    width = win.table.viewport().width()
    inside = [
        column
        for column in Column
        if not header.isSectionHidden(column)
        and header.sectionViewportPosition(column) >= 0
        and header.sectionViewportPosition(column) + header.sectionSize(column) <= width
    ]
    return sorted(inside, key=header.visualIndex)


@pytest.mark.parametrize("screen", list(SCREENS))
async def test_the_window_stays_within_the_screen_whatever_is_selected(window, screen):
    available = SCREENS[screen]
    size = initial_size(available)
    assert fits(size, available)
    window.resize(size)
    await drained()
    assert window.size() == size  # the window's minimum is below the laptop's size
    views = window.telemetry_views
    kinds = [("car", "none"), ("scooter", "iot"), ("e-bike", "iot")]  # the demo fleet's
    for kind, connection in kinds:
        row = next(
            r for r in window.model.rows if r.kind == kind and r.connection_type == connection
        )
        for tab in (window.detail, views.charts):
            views.right_tabs.setCurrentWidget(tab)
            assert window.select_vehicle(row.id)
            await drained()
            assert fits(window.minimumSizeHint(), available), (kind, connection, tab)
            assert window.size() == size, (kind, connection)  # never grown to fit the panel
    assert unscrolled_columns(window)[: len(KEY_COLUMNS)] == list(KEY_COLUMNS)


async def test_the_detail_panel_scrolls_instead_of_growing(window):
    window.resize(initial_size(SCREENS["1366x768"]))
    scooter = next(r for r in window.model.rows if r.kind == "scooter")
    window.select_vehicle(scooter.id)
    await drained()
    scroll = window.detail.scroll_area
    content = scroll.widget()
    assert content.sizeHint().height() > scroll.viewport().height()  # more than fits ...
    assert scroll.verticalScrollBar().maximum() > 0  # ... so it scrolls
    assert window.detail.values["last_heard"].isVisibleTo(window.detail)
    assert window.detail.minimumSizeHint().height() < 300


def test_key_columns_visible_even_after_an_old_saved_header_state(qtbot, context, confirmations):
    """A header saved by the previous version (model order, Status at 750 px) is dropped."""
    model = VehicleTableModel()
    old_table = QTableView()  # the v1 layout: model order, wide descriptive columns
    old_table.setModel(model)
    for column, width in ((Column.NAME, 190), (Column.MAKE_MODEL, 200), (Column.CONNECTION, 160)):
        old_table.setColumnWidth(column, width)
    old_state = old_table.horizontalHeader().saveState()
    settings = QSettings(str(context.paths.window_state_file), QSettings.Format.IniFormat)
    settings.setValue("header", old_state)
    settings.sync()

    second = MainWindow(context, confirm=confirmations)
    qtbot.addWidget(second)
    second.resize(initial_size(SCREENS["1366x768"]))
    second.show()
    QApplication.processEvents()  # a plain test: no asyncio task is running
    assert unscrolled_columns(second)[: len(KEY_COLUMNS)] == list(KEY_COLUMNS)
    second.close()
    assert (
        QSettings(str(context.paths.window_state_file), QSettings.Format.IniFormat).value("header")
        is None
    )  # the old key is gone for good


def test_operations_tables_fill_their_width_after_each_reload(qtbot):
    """Sizing the columns to their contents (each reload of Tasks, Alerts, Notifications,
    Rentals, Audit) must not leave the table ending in an empty band; a last column whose
    text needs more room keeps it whole."""
    table = make_table(["When", "Vehicle", "Last error"], "opsTable")
    qtbot.addWidget(table)
    table.resize(800, 300)
    table.show()
    header = table.horizontalHeader()

    def right_edge() -> int:
        return header.sectionPosition(2) + header.sectionSize(2)

    fill(table, [(1, ["12:00", "Scooter [S-1]", "timeout"])])
    assert right_edge() == table.viewport().width()
    fill(table, [(1, ["12:00", "Scooter [S-1]", "x" * 400])])
    assert right_edge() > table.viewport().width()  # whole, the table scrolls sideways
    fill(table, [(1, ["12:00", "Scooter [S-1]", "sent"])])
    assert right_edge() == table.viewport().width()


async def test_operations_windows_reopen_where_they_were_and_close_with_ctrl_w(
    window, context, qtbot, confirmations
):
    tasks = window.operations.show_tasks()
    assert tasks is not None and tasks.isVisible()
    await until(lambda: "task(s)" in tasks.count.text(), what="the tasks read")
    tasks.setGeometry(120, 140, 700, 420)
    tasks.activateWindow()
    await until(lambda: QApplication.activeWindow() is tasks, what="the window active")
    QTest.keyClick(tasks, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
    assert not tasks.isVisible()
    window.save_state()  # as when the console quits

    second = MainWindow(context, confirm=confirmations)
    qtbot.addWidget(second)
    again = second.operations.show_tasks()
    assert again is not None
    await until(lambda: "task(s)" in again.count.text(), what="the tasks read again")
    assert again.size() == QSize(700, 420)  # not the first-open 1000 x 600
    moved = again.pos() - QPoint(120, 140)  # the platform may shift it by its frame
    assert abs(moved.x()) < 40 and abs(moved.y()) < 40
    again.close()
    second.close()
