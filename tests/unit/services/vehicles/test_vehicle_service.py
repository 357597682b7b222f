from dataclasses import replace

import pytest

from app.models.database import Database, sqlite_url
from app.models.vehicles import VehicleFields
from app.services.vehicles.service import VehicleInvalid, VehicleService

CAR = VehicleFields(
    name="Tesla Model 3",
    fleet_number="c-1 ",
    kind="car",
    make="Tesla",
    model="Model 3",
    year=2021,
    vin="5yj3e1ea2kf317000",
    connection_type="smartcar",
)
SCOOTER = VehicleFields(
    name="OKAI ES400",
    fleet_number="S-1",
    kind="scooter",
    imei="490154203237518",
    connection_type="iot",
    iot_vendor="OKAI",
)


@pytest.fixture
def service(tmp_path):
    db = Database(sqlite_url(tmp_path / "f.sqlite"))
    db.migrate()
    yield VehicleService(db)
    db.close()


@pytest.mark.asyncio
async def test_add_normalises_and_stores(service):
    vehicle_id = await service.add(CAR)
    row = service.repository.row(vehicle_id)
    assert row.fleet_number == "C-1" and row.vin == "5YJ3E1EA2KF317000"


@pytest.mark.asyncio
async def test_iot_vehicle_gets_its_device(service):
    vehicle_id = await service.add(SCOOTER)
    assert service.repository.row(vehicle_id).iot_vendor == "OKAI"
    assert service.repository.fields(vehicle_id).iot_vendor == "OKAI"


@pytest.mark.asyncio
async def test_duplicates_are_refused_with_the_reason(service):
    await service.add(CAR)
    await service.add(SCOOTER)
    clash = VehicleFields(
        name="Other",
        fleet_number="C-1",
        kind="car",
        vin="5YJ3E1EA2KF317000",
    )
    with pytest.raises(VehicleInvalid) as info:
        await service.add(clash)
    assert "already used by Tesla Model 3 [C-1]" in info.value.problems["fleet_number"]
    assert "already used by Tesla Model 3 [C-1]" in info.value.problems["vin"]
    with pytest.raises(VehicleInvalid) as info:
        await service.add(
            VehicleFields(name="x", fleet_number="S-2", kind="scooter", imei=SCOOTER.imei)
        )
    assert "IMEI is already used by OKAI ES400 [S-1]" in info.value.problems["imei"]


@pytest.mark.asyncio
async def test_archived_vehicles_still_hold_their_identity(service):
    vehicle_id = await service.add(CAR)
    await service.set_archived(vehicle_id, True)
    assert service.repository.list_rows() == []
    assert service.repository.list_rows(include_archived=True)[0].archived
    with pytest.raises(VehicleInvalid) as info:
        await service.add(CAR)
    assert "(archived)" in info.value.problems["vin"]
    await service.set_archived(vehicle_id, False)
    assert [r.id for r in service.repository.list_rows()] == [vehicle_id]


@pytest.mark.asyncio
async def test_edit_keeps_own_identity_and_checks_rules(service):
    vehicle_id = await service.add(CAR)
    await service.update(vehicle_id, replace(CAR, name="Renamed"))
    assert service.repository.row(vehicle_id).name == "Renamed"
    with pytest.raises(VehicleInvalid) as info:
        await service.update(vehicle_id, replace(CAR, year=2014))
    assert "2016 or newer" in info.value.problems["year"]
