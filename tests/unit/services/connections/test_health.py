"""Plain-language permission gaps and the attention order of the Connections view."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from app.integrations.smartcar.scopes import REQUIRED_SCOPES
from app.models.connections import ConnectionRecord
from app.services.connections.health import (
    active_reason,
    missing_permissions,
    missing_text,
    rentable,
    sort_for_attention,
)

BASE = ConnectionRecord(
    id=1,
    vehicle_id=1,
    vehicle_name="Car",
    fleet_number="C-001",
    make="Tesla",
    model="Model 3",
    year=2021,
    vin=None,
    smartcar_vehicle_id="sc",
    smartcar_user_id="u",
    status="active",
    status_reason="",
    granted_scopes=REQUIRED_SCOPES,
    access_expires_at=datetime.now(UTC),
    refresh_expires_at=None,
    connected_at=None,
    last_sync_at=None,
    last_command_at=None,
    last_error="",
    can_call=True,
)


def test_every_missing_permission_is_named_with_what_it_blocks() -> None:
    granted = [s for s in REQUIRED_SCOPES if s not in ("read_location", "read_odometer")]
    assert missing_permissions(granted) == ["read_location", "read_odometer"]
    text = missing_text(granted)
    assert text.startswith("Not rentable")
    assert "Read Location (blocks map position" in text and "Read Odometer (blocks mileage" in text
    assert missing_text(REQUIRED_SCOPES) == "" and active_reason(REQUIRED_SCOPES).startswith("Conn")


def test_attention_order_puts_problems_first() -> None:
    records = [
        replace(BASE, id=1, fleet_number="A", status="disconnected"),
        replace(BASE, id=2, fleet_number="B", status="active"),
        replace(BASE, id=3, fleet_number="C", status="active", granted_scopes=("read_vin",)),
        replace(BASE, id=4, fleet_number="D", status="expired"),
        replace(BASE, id=5, fleet_number="E", status="error"),
        replace(BASE, id=6, fleet_number="F", status="pending"),
    ]
    assert [r.status for r in sort_for_attention(records)] == [
        "error",
        "expired",
        "pending",
        "active",
        "active",
        "disconnected",
    ]
    assert [r.fleet_number for r in sort_for_attention(records)][3:5] == ["C", "B"]
    assert rentable(records[1]) and not rentable(records[2]) and not rentable(records[0])
