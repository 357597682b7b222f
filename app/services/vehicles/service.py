"""Adding, editing and archiving vehicles, with every rule checked before storing.

The dialogs call ``check`` as the operator types (cheap, no database) and ``save`` on OK;
``save`` re-checks and adds the duplicate check, so the rules hold for every caller,
including imports and the demo seeder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from app.listeners import Listeners
from app.models.database import Database
from app.models.enums import ConnectionType, VehicleKind
from app.models.vehicles import VehicleFields, VehicleRepository, VehicleRow
from app.services.vehicles import validation

logger = logging.getLogger(__name__)

_FIELD_LABELS = {"fleet_number": "fleet number", "vin": "VIN", "imei": "IMEI"}


class VehicleInvalid(Exception):
    """The fields break one or more rules; ``problems`` maps field name to message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def normalise(fields: VehicleFields) -> VehicleFields:
    """Trim and upper-case what people type with stray spaces or lower case."""
    return replace(
        fields,
        name=fields.name.strip(),
        fleet_number=fields.fleet_number.strip().upper(),
        make=fields.make.strip(),
        model=fields.model.strip(),
        vin=(fields.vin or "").strip().upper().replace(" ", "") or None,
        imei=(fields.imei or "").strip().replace(" ", "") or None,
        plate=fields.plate.strip().upper(),
    )


def check(fields: VehicleFields) -> dict[str, str]:
    """Every rule that needs no database; empty dict when all is well."""
    problems: dict[str, str] = {}
    if not fields.name:
        problems["name"] = "a name is required"
    if not fields.fleet_number:
        problems["fleet_number"] = "a fleet number is required"
    if fields.kind not in {k.value for k in VehicleKind}:
        problems["kind"] = f"unknown vehicle kind {fields.kind!r}"
    if fields.vin and (problem := validation.vin_problem(fields.vin)):
        problems["vin"] = problem
    if fields.imei and (problem := validation.imei_problem(fields.imei)):
        problems["imei"] = problem
    if fields.connection_type == ConnectionType.SMARTCAR.value:
        if fields.kind != VehicleKind.CAR.value:
            problems["connection_type"] = "only cars connect through Smartcar"
        if problem := validation.smartcar_year_problem(fields.year):
            problems["year"] = problem
        if not fields.vin and "vin" not in problems:
            problems["vin"] = "a Smartcar car needs its VIN to be linked"
    if fields.connection_type == ConnectionType.IOT.value and not fields.imei:
        problems.setdefault("imei", "an IoT vehicle needs the IMEI of its device")
    if fields.year is not None and not 1980 <= fields.year <= 2100:
        problems.setdefault("year", f"model year {fields.year} is not plausible")
    return problems


class VehicleService:
    """The vehicle rules on top of the repository; all methods are awaitable."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.repository = VehicleRepository(database)
        #: Hear the id of each vehicle added or edited (its status is re-derived: an
        #: operator hold set or cleared in Edit Vehicle shows at once).
        self.changes: Listeners[[int]] = Listeners("vehicle edits")

    async def rows(self, *, include_archived: bool = False) -> list[VehicleRow]:
        """The whole fleet for the list."""
        return await self._db.run(self.repository.list_rows, include_archived=include_archived)

    async def row(self, vehicle_id: int) -> VehicleRow | None:
        return await self._db.run(self.repository.row, vehicle_id)

    async def rows_by_id(self, vehicle_ids: Iterable[int]) -> list[VehicleRow]:
        """Current rows of several vehicles at once (live updates of the list)."""
        return await self._db.run(self.repository.rows, list(vehicle_ids))

    async def fields(self, vehicle_id: int) -> VehicleFields:
        """What Edit Vehicle starts from."""
        return await self._db.run(self.repository.fields, vehicle_id)

    def _validated(self, fields: VehicleFields, exclude_id: int | None) -> VehicleFields:
        fields = normalise(fields)
        problems = check(fields)
        for dup in self.repository.duplicates(fields, exclude_id=exclude_id):
            where = " (archived)" if dup.other_archived else ""
            problems.setdefault(
                dup.field,
                f"this {_FIELD_LABELS[dup.field]} is already used by "
                f"{dup.other_name} [{dup.other_fleet_number}]{where}",
            )
        if problems:
            raise VehicleInvalid(problems)
        return fields

    async def add(self, fields: VehicleFields) -> int:
        def work() -> int:
            return self.repository.add(self._validated(fields, None))

        vehicle_id = await self._db.run(work)
        self.changes.notify(vehicle_id)
        return vehicle_id

    async def update(self, vehicle_id: int, fields: VehicleFields) -> None:
        def work() -> None:
            self.repository.update(vehicle_id, self._validated(fields, vehicle_id))

        await self._db.run(work)
        self.changes.notify(vehicle_id)

    async def set_archived(self, vehicle_id: int, archived: bool) -> None:
        await self._db.run(self.repository.set_archived, vehicle_id, archived)
