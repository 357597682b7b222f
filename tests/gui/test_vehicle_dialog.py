import pytest

from app.views.vehicle_dialog import VehicleDialog
from tests.helpers.waiting import until

pytestmark = pytest.mark.gui

GOOD_VIN = "1HGCM82633A004352"
GOOD_IMEI = "490154203237518"


def fill_car(dialog: VehicleDialog, **overrides):
    values = {
        "name": "Honda Accord",
        "fleet_number": "C-900",
        "make": "Honda",
        "model": "Accord",
        "year": "2019",
        "vin": GOOD_VIN,
    } | overrides
    for key, value in values.items():
        getattr(dialog, key).setText(value)
    dialog.kind.setCurrentIndex(dialog.kind.findData("car"))
    dialog.connection.setCurrentIndex(dialog.connection.findData("smartcar"))


def fill_scooter(dialog: VehicleDialog, imei: str, fleet_number: str = "S-900"):
    dialog.name.setText("OKAI ES400")
    dialog.fleet_number.setText(fleet_number)
    dialog.kind.setCurrentIndex(dialog.kind.findData("scooter"))
    dialog.connection.setCurrentIndex(dialog.connection.findData("iot"))
    dialog.imei.setText(imei)


@pytest.fixture
def dialog(qtbot, window):
    d = window.add_vehicle()
    qtbot.addWidget(d)
    return d


async def test_valid_car_is_saved_listed_and_selected(window, dialog):
    fill_car(dialog)
    assert all(not e.isVisible() for e in dialog.errors.values())
    await dialog.save()
    await until(
        lambda: window.current_row() is not None and window.current_row().fleet_number == "C-900"
    )
    assert not dialog.isVisible()
    assert window.current_row().vin == GOOD_VIN
    assert window.count_label.text() == "21 vehicles"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vin", "1HGCM82633A00435", "17 characters"),
        ("vin", "1HGCM8263IA004352", "never contains I, O or Q"),
        ("vin", "1HGCM82643A004352", "check digit"),
        ("year", "2015", "2016 or newer"),
    ],
)
async def test_bad_car_input_is_refused_with_its_message(window, dialog, field, value, message):
    fill_car(dialog, **{field: value})
    label = dialog.errors[field]
    assert label.isVisible() and message in label.text()  # shown while typing
    await dialog.save()
    assert dialog.isVisible() and message in label.text()
    assert window.model.rowCount() == 20


@pytest.mark.parametrize(
    ("imei", "message"),
    [("49015420323751", "exactly 15 digits"), ("490154203237519", "Luhn")],
)
async def test_bad_imei_is_refused(window, dialog, imei, message):
    fill_scooter(dialog, imei)
    await dialog.save()
    assert message in dialog.errors["imei"].text() and dialog.isVisible()
    assert window.model.rowCount() == 20


async def test_required_fields_are_named_on_ok(window, dialog):
    await dialog.save()
    assert "required" in dialog.errors["name"].text()
    assert "required" in dialog.errors["fleet_number"].text()
    assert dialog.isVisible()


async def test_duplicates_are_refused_with_the_reason(window, dialog):
    taken = next(r for r in window.model.rows if r.imei)
    fill_scooter(dialog, taken.imei, fleet_number=taken.fleet_number)
    await dialog.save()
    assert f"already used by {taken.name} [{taken.fleet_number}]" in dialog.errors["imei"].text()
    assert "already used" in dialog.errors["fleet_number"].text()
    assert "Not saved" in dialog.status.text() and dialog.isVisible()
    assert window.model.rowCount() == 20


async def test_edit_changes_the_listed_vehicle(qtbot, window):
    car = next(r for r in window.model.rows if r.kind == "car")
    window.select_vehicle(car.id)
    dialog = await window.edit_vehicle()
    qtbot.addWidget(dialog)
    assert dialog.vin.text() == car.vin and dialog.windowTitle() == "Edit Vehicle"
    dialog.name.setText("Pool car 1")
    await dialog.save()
    await until(lambda: window.current_row().name == "Pool car 1")
    assert window.detail.title.text() == "Pool car 1"
    assert window.model.rowCount() == 20


def assert_fits(dialog) -> None:
    """Issue #13 item 9: VIN errors were cut off vertically."""
    from PySide6.QtWidgets import QLabel

    size, hint = dialog.size(), dialog.sizeHint()
    assert size.width() >= hint.width() and size.height() >= hint.height(), (size, hint)
    for label in dialog.findChildren(QLabel):
        if label.isVisible() and label.text():
            if label.wordWrap():
                assert label.heightForWidth(label.width()) <= label.height(), label.text()
            else:
                assert label.sizeHint().width() <= label.width(), label.text()


async def test_error_reasons_are_shown_whole(window, dialog):
    await until(dialog.isVisible, what="dialog shown")
    assert_fits(dialog)
    fill_car(dialog, vin="1HGCM8263IA004352", year="2015")
    await dialog.save()
    assert dialog.errors["vin"].isVisible() and dialog.errors["year"].isVisible()
    assert_fits(dialog)


async def test_hold_is_set_and_cleared_in_edit_vehicle(qtbot, window):
    car = next(r for r in window.model.rows if r.kind == "car")
    window.select_vehicle(car.id)
    dialog = await window.edit_vehicle()
    qtbot.addWidget(dialog)
    assert dialog.hold.currentData() == "available"  # no hold: the status is derived
    dialog.hold.setCurrentIndex(dialog.hold.findData("maintenance"))
    await dialog.save()
    await until(lambda: window.current_row().status == "maintenance", what="hold stored")
    dialog = await window.edit_vehicle()
    qtbot.addWidget(dialog)
    assert dialog.hold.currentData() == "maintenance"
    dialog.hold.setCurrentIndex(dialog.hold.findData("available"))
    await dialog.save()
    await until(lambda: window.current_row().status == "available", what="hold cleared")
