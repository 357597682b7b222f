"""The IoT RecordSink on a real SQLite database: storing, the inbox, claiming, dedupe."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from app.integrations.iot.records import DeviceRecord, LockState, RecordKind
from app.integrations.iot.sink import Received
from app.models.iot_devices import ClaimError
from app.models.orm import IotDevice, TelemetrySample, UnknownDevice, Vehicle, VehicleState
from app.models.vehicles import VehicleRepository
from app.services.iot.frame_log import FrameEntry, FrameLog
from app.services.vehicles.service import VehicleInvalid
from tests.unit.services.iot.conftest import IMEI_A, IMEI_B, T0, position, scooter

NEW_IMEI = "861234567890123"


def samples(db) -> list[TelemetrySample]:
    with db.session() as session:
        return list(session.scalars(select(TelemetrySample).order_by(TelemetrySample.id)))


def state(db, vehicle_id: int) -> VehicleState | None:
    with db.session() as session:
        return session.get(VehicleState, vehicle_id)


def device_row(db, device_id: str) -> IotDevice:
    with db.session() as session:
        return session.scalars(select(IotDevice).where(IotDevice.device_id == device_id)).one()


@pytest.mark.asyncio
async def test_a_known_devices_fix_reaches_state_history_and_device_row(rig):
    ingest, db = rig.ingest, rig.db
    assert ingest.is_known(IMEI_A, "omni")
    assert not ingest.is_known(IMEI_A, "gl200")  # registered for another protocol
    await ingest.store([Received("10.0.0.5:40000", [position(firmware="OM-2.1")])])

    current = state(db, rig.vehicles[IMEI_A])
    assert (current.latitude, current.longitude) == (52.52, 13.405)
    assert (current.battery_pct, current.locked, current.odometer_km) == (80.0, False, 123.4)
    assert current.recorded_at == T0
    [sample] = samples(db)
    assert sample.source == "iot" and sample.speed_kmh == 12.0
    assert sample.raw == f"*SCOR,OM,{IMEI_A},D0,0#"

    await ingest.flush()
    row = device_row(db, IMEI_A)
    assert row.address == "10.0.0.5:40000" and row.firmware == "OM-2.1"
    assert row.last_heard_at is not None
    [entry] = ingest.frames.entries(IMEI_A)
    assert entry.direction == "in" and entry.text.startswith("*SCOR") and "position" in entry.status


@pytest.mark.asyncio
async def test_unknown_devices_go_to_the_inbox_counted_and_nothing_is_stored(rig):
    ingest = rig.ingest
    assert not ingest.is_known(NEW_IMEI, "gt06")
    for port in (1, 2, 3):
        await ingest.unknown_device(NEW_IMEI, "gt06", f"10.0.0.9:{port}")
    [entry] = await ingest.unknown_devices()
    assert (entry.device_id, entry.protocol, entry.count) == (NEW_IMEI, "gt06", 3)
    assert entry.address == "10.0.0.9:3" and entry.first_seen <= entry.last_seen
    await ingest.unknown_device(NEW_IMEI, "gt06", "10.0.0.9:4")
    [entry] = await ingest.unknown_devices()
    assert entry.count == 4
    assert samples(rig.db) == []
    assert "unknown device" in ingest.frames.entries(NEW_IMEI)[0].status


@pytest.mark.asyncio
async def test_claiming_a_device_into_a_vehicle_then_its_data_is_stored(rig):
    ingest, db = rig.ingest, rig.db
    spare = rig.vehicles["spare"]
    await ingest.unknown_device(NEW_IMEI, "omni", "10.0.0.7:5000")
    [unknown] = await ingest.unknown_devices()

    with pytest.raises(ClaimError, match="already has device"):
        await ingest.claim(unknown.id, rig.vehicles[IMEI_A])
    entry = await ingest.claim(unknown.id, spare)
    assert (entry.vehicle_id, entry.protocol, entry.vendor) == (spare, "omni", "Omni")
    assert ingest.is_known(NEW_IMEI, "omni")
    assert ingest.device_for_vehicle(spare) == entry
    assert await ingest.unknown_devices() == []
    with pytest.raises(ClaimError, match="no longer"):
        await ingest.claim(unknown.id, spare)

    await ingest.store([Received("10.0.0.7:5000", [position(NEW_IMEI, battery_pct=55.0)])])
    assert state(db, spare).battery_pct == 55.0
    with db.session() as session:
        vehicle = session.get(Vehicle, spare)
        assert (vehicle.connection_type, vehicle.imei) == ("iot", NEW_IMEI)


@pytest.mark.asyncio
async def test_re_sent_records_are_stored_once(rig):
    ingest = rig.ingest
    first, later = position(offset_s=0), position(offset_s=10, latitude=52.53)
    await ingest.store([Received("p", [first, first])])  # duplicated within one read
    await ingest.store([Received("p", [first, later])])  # re-sent after a lost ACK
    assert [s.recorded_at for s in samples(rig.db)] == [first.fix_time, later.fix_time]
    assert ingest.duplicates == 2
    assert "re-sent" in ingest.frames.entries(IMEI_A)[1].status


@pytest.mark.asyncio
@pytest.mark.expect_log("app.models.telemetry_reading", r"telemetry: vehicle")
async def test_implausible_fields_are_dropped_one_by_one(rig):
    ingest, db = rig.ingest, rig.db
    bad = position(latitude=999.0, speed_kmh=math.nan, battery_pct=250.0)
    await ingest.store([Received("p", [bad])])
    current = state(db, rig.vehicles[IMEI_A])
    assert current.latitude is None and current.longitude is None
    assert current.speed_kmh is None and current.battery_pct is None
    assert (current.odometer_km, current.locked) == (123.4, False)  # the good fields stay


@pytest.mark.asyncio
async def test_an_invalid_fix_gives_no_position_but_keeps_the_readings(rig):
    no_fix = position(IMEI_B, protocol="gl200", valid_fix=False, battery_pct=42.0)
    await rig.ingest.store([Received("p", [no_fix])])
    current = state(rig.db, rig.vehicles[IMEI_B])
    assert current.latitude is None and current.speed_kmh is None
    assert current.battery_pct == 42.0


@pytest.mark.asyncio
async def test_records_of_unregistered_devices_are_never_stored(rig):
    stray = position(NEW_IMEI)
    await rig.ingest.store([Received("p", [stray])])
    assert samples(rig.db) == []
    assert rig.ingest.frames.entries(NEW_IMEI) == []  # no frame log for a made-up id
    await rig.ingest.unknown_device(NEW_IMEI, "omni", "10.0.0.1:4000")  # now in the inbox
    await rig.ingest.store([Received("p", [stray])])
    assert samples(rig.db) == []
    assert "not registered" in rig.ingest.frames.entries(NEW_IMEI)[0].status


@pytest.mark.asyncio
async def test_a_device_registered_without_protocol_learns_it_from_its_first_frame(rig):
    ingest, db = rig.ingest, rig.db
    with db.session() as session:
        session.add(
            IotDevice(vehicle_id=rig.vehicles["spare"], vendor="", protocol="", device_id=NEW_IMEI)
        )
    await ingest.refresh()
    assert ingest.is_known(NEW_IMEI, "gt06")
    login = DeviceRecord("gt06", RecordKind.LOGIN, NEW_IMEI, b"\x78\x78\x0d\x01")
    await ingest.store([Received("p", [login])])
    assert not ingest.is_known(NEW_IMEI, "omni")
    await ingest.flush()
    assert device_row(db, NEW_IMEI).protocol == "gt06"
    assert ingest.frames.entries(NEW_IMEI)[0].text == "78 78 0d 01"


@pytest.mark.asyncio
async def test_refresh_drops_inbox_entries_registered_through_edit_vehicle(rig):
    ingest, db = rig.ingest, rig.db
    await ingest.unknown_device(NEW_IMEI, "omni", "p")
    assert len(await ingest.unknown_devices()) == 1
    VehicleRepository(db).add(scooter(9, NEW_IMEI))
    await ingest.refresh()
    assert ingest.is_known(NEW_IMEI, "omni")
    with db.session() as session:
        assert session.scalar(select(func.count(UnknownDevice.id))) == 0


def test_the_frame_log_is_a_bounded_ring_newest_first():
    log = FrameLog(size=3)
    seen: list[str] = []
    remove = log.added.subscribe(lambda device, entry: seen.append(f"{device}:{entry.text}"))
    for n in range(5):
        log.add("dev", FrameEntry(T0, "in", str(n), "ok"))
    remove()
    log.add("dev", FrameEntry(T0, "in", "5", "ok"))
    assert [e.text for e in log.entries("dev")] == ["5", "4", "3"]
    assert seen == [f"dev:{n}" for n in range(5)]
    assert log.entries("other") == []


def test_lock_state_unknown_is_not_stored_as_unlocked():
    from app.services.iot.ingest import to_reading

    reading = to_reading(position(lock_state=LockState.UNKNOWN), 1, T0)
    assert reading.locked is None and reading.source == "iot"


@pytest.mark.asyncio
async def test_claiming_into_a_new_vehicle_checks_the_vehicle_rules_first(rig):
    ingest, db = rig.ingest, rig.db
    imei = "356938035643809"  # a valid IMEI (Luhn digit), as Add Vehicle demands
    await ingest.unknown_device(imei, "gl200", "10.0.0.8:1")
    [unknown] = await ingest.unknown_devices()
    fields = scooter(4, imei, "gl200")
    with pytest.raises(VehicleInvalid, match="fleet number"):
        await ingest.claim(unknown.id, replace(fields, fleet_number=""))
    entry = await ingest.claim(unknown.id, fields)
    assert entry.protocol == "gl200" and ingest.is_known(imei, "gl200")
    assert await ingest.unknown_devices() == []
    with db.session() as session:
        assert session.get(Vehicle, entry.vehicle_id).fleet_number == "S-004"


@pytest.mark.asyncio
async def test_a_rejected_frame_shows_in_the_devices_frame_log_as_received(rig):
    seen: list[tuple[str, FrameEntry]] = []
    rig.ingest.frames.added.subscribe(lambda device_id, entry: seen.append((device_id, entry)))
    rig.ingest.rejected(
        IMEI_A, "gt06", "10.0.0.5:40000", b"\x78\x78\x05\x00", "undecodable frame: CRC"
    )
    [entry] = rig.ingest.frames.entries(IMEI_A)
    assert entry.direction == "in" and entry.text == "78 78 05 00"
    assert entry.status == "rejected: undecodable frame: CRC"
    assert seen == [(IMEI_A, entry)]  # the open detail panel hears it live
    assert samples(rig.db) == []


def test_a_devices_charging_state_reaches_the_reading_and_silence_stays_unknown():
    from app.services.iot.ingest import to_reading

    assert to_reading(position(charging=True), 1, T0).charging is True
    assert to_reading(position(charging=False), 1, T0).charging is False
    assert to_reading(position(), 1, T0).charging is None


def test_the_dedupe_key_is_exact_to_the_microsecond_and_the_kind():
    from dataclasses import replace
    from datetime import timedelta

    from app.integrations.iot.records import RecordKind
    from app.services.iot.ingest import dedupe_key

    base = position()
    assert dedupe_key(base) == dedupe_key(position())  # a re-sent record
    later = replace(base, fix_time=base.fix_time + timedelta(microseconds=1))
    status = replace(base, kind=RecordKind.STATUS)
    assert len({dedupe_key(base), dedupe_key(later), dedupe_key(status)}) == 3
    assert dedupe_key(replace(base, fix_time=None)) is None
