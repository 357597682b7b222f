import pytest
from PySide6.QtCore import Qt

from app.views.item_models.vehicle_table_model import Column
from app.views.main_window import MainWindow
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui


def shown(win: MainWindow, column: Column = Column.FLEET_NUMBER) -> list[str]:
    return [win.proxy.index(r, column).data() for r in range(win.proxy.rowCount())]


def set_combo(combo, value):
    combo.setCurrentIndex(combo.findData(value))


async def test_list_shows_the_demo_fleet_with_badges(window):
    assert window.proxy.rowCount() == 20
    assert window.count_label.text() == "20 vehicles"
    badges = {window.proxy.index(r, Column.CONNECTION).data() for r in range(20)}
    assert any(b.startswith("IoT · ") for b in badges)
    assert "" in badges  # cars without a Smartcar connection carry no Smartcar badge
    headers = [
        window.proxy.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        for c in Column
    ]
    assert headers[Column.ENERGY] == "Fuel / battery" and headers[Column.LAST_HEARD] == "Last heard"


async def test_search_matches_name_fleet_number_vin_imei_plate_and_model(window, qtbot):
    rows = window.model.rows
    car = next(r for r in rows if r.kind == "car")
    scooter = next(r for r in rows if r.imei)
    for text, expected in (
        (car.fleet_number, car.fleet_number),
        (car.vin.lower(), car.fleet_number),
        (car.plate, car.fleet_number),
        (scooter.imei, scooter.fleet_number),
    ):
        window.search.clear()
        qtbot.keyClicks(window.search, text)
        assert shown(window) == [expected], text
    window.search.setText(f"{car.make} {car.model}")
    assert car.fleet_number in shown(window)
    assert all(
        window.model.rows[window.model.position_of(vid)].make == car.make
        for vid in window.proxy.visible_vehicle_ids()
    )
    window.search.setText("no such vehicle")
    assert shown(window) == [] and window.count_label.text() == "0 of 20 vehicles"
    qtbot.keyClick(window.search, Qt.Key.Key_Escape)
    assert window.proxy.rowCount() == 20


async def test_filters_by_kind_connection_and_status(window):
    set_combo(window.kind_filter, "car")
    assert window.proxy.rowCount() == 12
    set_combo(window.kind_filter, None)
    set_combo(window.connection_filter, "iot")
    assert window.proxy.rowCount() == 8
    set_combo(window.connection_filter, "smartcar")
    assert window.proxy.rowCount() == 0
    set_combo(window.connection_filter, None)
    set_combo(window.status_filter, "available")
    assert window.proxy.rowCount() == 20
    set_combo(window.status_filter, "maintenance")
    assert window.proxy.rowCount() == 0


async def test_sorting_by_column(window):
    window.table.sortByColumn(Column.FLEET_NUMBER, Qt.SortOrder.DescendingOrder)
    numbers = shown(window)
    assert numbers == sorted(numbers, reverse=True)
    window.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    names = shown(window, Column.NAME)
    assert names == sorted(names, key=str.lower)


async def test_selecting_shows_detail_waiting_for_first_data(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    assert window.select_vehicle(car.id)
    assert window.detail.title.text() == car.name
    assert window.detail.text("vin") == car.vin
    assert window.detail.readouts.text("energy") == "waiting for first data"
    assert window.detail.readouts.text("location") == "waiting for first data"
    assert window.detail.text("connection_status") == "Not connected"


async def test_selection_survives_filtering_when_still_visible(window):
    car = next(r for r in window.model.rows if r.kind == "car")
    window.select_vehicle(car.id)
    set_combo(window.kind_filter, "car")
    assert window.current_vehicle_id() == car.id
    set_combo(window.kind_filter, "scooter")
    assert window.current_vehicle_id() is None
    assert window.detail.title.text() == "Select a vehicle in the list"


async def test_archive_asks_first_then_can_be_undone(window, confirmations):
    car = next(r for r in window.model.rows if r.kind == "car")
    window.select_vehicle(car.id)
    confirmations.answer = False
    await window.archive_vehicle()
    assert confirmations.asked and car.name in confirmations.asked[0]
    assert window.model.position_of(car.id) is not None
    confirmations.answer = True
    await window.archive_vehicle()
    await until(lambda: window.model.position_of(car.id) is None, what="the car to leave the list")
    assert window.proxy.rowCount() == 19
    assert window.undo_action.isEnabled()
    await window.undo_archive()
    await until(lambda: window.model.position_of(car.id) is not None, what="the car to come back")
    assert window.current_vehicle_id() == car.id


async def test_show_archived_lists_archived_vehicles(window, confirmations):
    car = next(r for r in window.model.rows if r.kind == "car")
    await window.context.vehicles.set_archived(car.id, True)
    window.show_archived.setChecked(True)

    def listed_as_archived():
        position = window.model.position_of(car.id)
        return position is not None and window.model.rows[position].archived

    await until(listed_as_archived, what="the archived car listed as archived")
    window.select_vehicle(car.id)
    assert "(archived)" in window.detail.title.text()
    assert not window.archive_action.isEnabled()


async def test_window_geometry_and_splitter_are_remembered(qtbot, context, confirmations):
    first = MainWindow(context, confirm=confirmations)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 470)  # differs from the default size; the minimum width may widen it
    first.splitter.setSizes([400, 240])
    size, sizes = (first.width(), first.height()), first.splitter.sizes()
    assert size[1] == 470
    first.close()
    second = MainWindow(context, confirm=confirmations)
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == size
    assert second.splitter.sizes() == sizes
    second.close()


def test_administration_is_for_shared_databases_and_says_so(window):
    action = window.operations.actions["administration"]
    assert not action.isEnabled()
    assert "single-user database" in action.toolTip()
    assert window.signed_in_label.text() == ""
