"""How values read on screen: ages, percentages, distances, badges' words.

Pure functions with no Qt, so they are tested on their own and every view says
"12 min ago" the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.models.connections import ConnectionRecord

WAITING = "waiting for first data"

KIND_LABELS = {"car": "Car", "scooter": "Scooter", "e-bike": "E-bike"}
STATUS_LABELS = {
    "available": "Available",
    "in_use": "In use",
    "maintenance": "Maintenance",
    "not_ready": "Not ready",
    "charging": "Charging",
    "discharged": "Discharged",
    "offline": "Offline",
}
#: One colour per vehicle status: the list's status dot and the map's circles (README
#: "Vehicle status" legend).
STATUS_COLOURS = {
    "available": "#2e9d4f",
    "in_use": "#1f6fb2",
    "charging": "#7b1fa2",
    "discharged": "#c62828",
    "maintenance": "#d98a00",
    "not_ready": "#8a8f98",
    "offline": "#424242",
}
CONNECTION_STATUS_LABELS = {
    "pending": "Pending",
    "active": "Active",
    "expired": "Expired",
    "disconnected": "Disconnected",
    "error": "Error",
}
# Traffic-light colours for connection health, shared by the badge and the panel.
CONNECTION_STATUS_COLOURS = {
    "active": "#2e9d4f",
    "pending": "#8a8f98",
    "expired": "#d98a00",
    "error": "#c62828",
    "disconnected": "#6d4c41",
}
IOT_BADGE_COLOUR = "#1f6fb2"


def age(when: datetime | None, now: datetime | None = None) -> str:
    """'just now', '12 min ago', '3 h ago', '2 d ago'; '' when never."""
    if when is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86_400)} d ago"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} %"


def kilometres(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} km"


def locked(value: bool | None) -> str:
    if value is None:
        return ""
    return "Locked" if value else "Unlocked"


def connection_badge(
    connection_type: str, connection_status: str | None, vendor: str | None
) -> str:
    """The words of the list's connection badge.

    The Smartcar badge shows only while a connection exists (product text: "The Smartcar
    badge appears on the vehicle card in list views"); the IoT badge names the vendor.
    """
    if connection_status is not None:
        return f"Smartcar · {CONNECTION_STATUS_LABELS.get(connection_status, connection_status)}"
    if connection_type == "iot":
        return f"IoT · {vendor}" if vendor else "IoT"
    if connection_type == "smartcar":
        return "Smartcar · not connected"
    return ""


#: The webhook subscription as the operator reads it (V3 connections only).
WEBHOOK_LABELS = {
    "": "not subscribed",
    "pending": "subscribing…",
    "subscribed": "subscribed",
    "failed": "failed",
}


def webhook_text(record: ConnectionRecord, now: datetime) -> str:
    """``subscribed, last push 2 min ago``; v2.0 connections are polled only."""
    if not record.v3:
        return "— (polled)"
    text = WEBHOOK_LABELS.get(record.webhook_state, record.webhook_state)
    if record.webhook_state == "failed" and record.webhook_error:
        text += f": {record.webhook_error}"
    if record.last_delivery_at is not None:
        text += f", last push {age(record.last_delivery_at, now)}"
    return text
