"""Text with NUL characters from devices and vendor APIs on PostgreSQL (which refuses NUL).

The rule (app.models.orm.escape_nul): a NUL is stored as the four characters ``\\x00`` on
every backend, everything else verbatim.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.models.iot_devices import Heard, IotDeviceRepository, UnknownSighting
from app.models.orm import IotDevice, TelemetrySample
from app.models.telemetry_reading import TelemetryReading
from app.models.telemetry_store import TelemetryStore
from app.models.vehicles import VehicleFields, VehicleRepository

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_a_raw_frame_with_nul_is_stored_escaped_with_the_rest_of_its_batch(db):
    car, scooter = VehicleRepository(db).add_many(
        [VehicleFields(name=n, fleet_number=n, kind="car") for n in ("C-1", "S-1")]
    )
    readings = [
        TelemetryReading(car, "smartcar", T0, T0, fuel=40.0, raw="before"),
        TelemetryReading(scooter, "iot", T0, T0, battery=80.0, raw="garbage\x00frame\x00"),
        TelemetryReading(car, "smartcar", T0 + timedelta(minutes=5), T0, fuel=39.0, raw="after"),
    ]
    outcome = TelemetryStore(db).write_batch(readings)  # the COPY path on psycopg
    assert (outcome.stored, outcome.dropped_readings) == (3, 0)
    with db.session() as s:
        stored = s.execute(
            select(TelemetrySample.vehicle_id, TelemetrySample.raw).order_by(TelemetrySample.id)
        ).all()
    assert stored == [
        (car, "before"),
        (scooter, "garbage\\x00frame\\x00"),
        (car, "after"),
    ]


def test_device_ids_addresses_and_firmware_with_nul_are_stored_escaped(db):
    repo = IotDeviceRepository(db)
    repo.record_unknown({("86\x0012", "teltonika"): UnknownSighting("10.0.0.1:5000", T0, T0, 2)})
    car = VehicleRepository(db).add(VehicleFields(name="C-1", fleet_number="C-1", kind="car"))
    with db.session() as s:
        s.add(IotDevice(vehicle_id=car, vendor="x", protocol="gt06", device_id="D1"))
    # Firmware fields are often fixed-width C strings padded with NUL; the escape must not
    # push the value past the column's 60 characters either.
    firmware = "FW1.2" + "\x00" * 40
    repo.record_heard({"D1": Heard(T0, "10.0.0.2:6000", "gt06", firmware)})

    [entry] = repo.list_unknown()
    assert (entry.device_id, entry.count) == ("86\\x0012", 2)
    info = repo.device(car)
    assert info is not None
    assert info.firmware == ("FW1.2" + "\\x00" * 40)[:60]
