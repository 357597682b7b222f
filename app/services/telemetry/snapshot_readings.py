"""Turns one Smartcar poll (a VehicleSnapshot) into telemetry readings for the store.

Each batch item carries its own ``SC-Data-Age``; values are grouped by that age so every
value is stamped with the time the car actually recorded it (usually one group, one
reading). Units become the store's: fractions to percent, Smartcar's door/lid names kept
(``frontLeft`` ... plus ``trunk``/``frunk`` for the storage lids), tire pressures in kPa.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.integrations.smartcar.models import DataKind, VehicleSnapshot
from app.models.telemetry_reading import TelemetryReading

_STORAGE_NAMES = {"rear": "trunk", "front": "frunk"}
SAME_READING = timedelta(seconds=60)


def _pct(fraction: float | None) -> float | None:
    return None if fraction is None else round(fraction * 100.0, 3)


def _values(snapshot: VehicleSnapshot) -> dict[DataKind, dict[str, Any]]:
    out: dict[DataKind, dict[str, Any]] = {}
    if snapshot.location is not None:
        out[DataKind.LOCATION] = {
            "lat": snapshot.location.latitude,
            "lon": snapshot.location.longitude,
        }
    ranges = []
    if snapshot.fuel is not None:
        out[DataKind.FUEL] = {"fuel": _pct(snapshot.fuel.percent_remaining)}
        ranges.append((DataKind.FUEL, snapshot.fuel.range_km))
    if snapshot.battery is not None:
        out[DataKind.BATTERY] = {"battery": _pct(snapshot.battery.percent_remaining)}
        ranges.append((DataKind.BATTERY, snapshot.battery.range_km))
    known = [(kind, km) for kind, km in ranges if km is not None]
    if known:  # a plug-in hybrid drives on both: its range is the sum
        out[known[-1][0]]["range"] = sum(km for _, km in known)
    if snapshot.odometer is not None:
        out[DataKind.ODOMETER] = {"odometer": snapshot.odometer.distance_km}
    if snapshot.lock_status is not None:
        status = snapshot.lock_status
        doors = {o.type: o.status for o in status.doors}
        doors.update({_STORAGE_NAMES.get(o.type, o.type): o.status for o in status.storage})
        out[DataKind.LOCK_STATUS] = {"locked": status.is_locked, "doors": doors or None}
    if snapshot.tire_pressure is not None:
        t = snapshot.tire_pressure
        tires = {
            name: kpa
            for name, kpa in (
                ("frontLeft", t.front_left_kpa),
                ("frontRight", t.front_right_kpa),
                ("backLeft", t.back_left_kpa),
                ("backRight", t.back_right_kpa),
            )
            if kpa is not None
        }
        if tires:
            out[DataKind.TIRE_PRESSURE] = {"tires_kpa": tires}
    if snapshot.engine_oil is not None:
        out[DataKind.ENGINE_OIL] = {"oil_life": _pct(snapshot.engine_oil.life_remaining)}
    if snapshot.charge is not None and snapshot.charge.charging is not None:
        out[DataKind.CHARGE] = {"charging": snapshot.charge.charging}
    return out


def snapshot_readings(
    snapshot: VehicleSnapshot, vehicle_id: int, received_at: datetime
) -> list[TelemetryReading]:
    """One reading per group of data ages (a value without an age counts as fresh).

    Items of one batch are answered a few milliseconds apart, so ages within
    ``SAME_READING`` of the group's oldest form one reading, stamped with the newest.
    """
    aged = sorted(
        (
            (snapshot.data_ages.get(kind) or received_at, values)
            for kind, values in _values(snapshot).items()
        ),
        key=lambda item: item[0],
    )
    groups: list[tuple[datetime, datetime, dict[str, Any]]] = []
    for age, values in aged:
        if groups and age - groups[-1][0] <= SAME_READING:
            first, _, merged = groups[-1]
            groups[-1] = (first, age, {**merged, **values})
        else:
            groups.append((age, age, dict(values)))
    raw = f"smartcar request {snapshot.request_id}" if snapshot.request_id else None
    return [
        TelemetryReading(
            vehicle_id=vehicle_id,
            source="smartcar",
            recorded_at=newest,
            received_at=received_at,
            raw=raw,
            **values,
        )
        for _, newest, values in groups
    ]
