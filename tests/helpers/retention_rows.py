"""History rows of every age and state the retention sweep must tell apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.models.database import Database
from app.models.orm import ConnectRequest, Notification, Zone, ZoneEvent
from app.models.vehicles import VehicleFields, VehicleRepository

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)  # past every default
RECENT = NOW - timedelta(days=2)


def seed(db: Database) -> None:
    """Zone events, notifications and connect requests, old and recent, over and not."""
    vehicle = VehicleRepository(db).add(VehicleFields(name="R-1", fleet_number="R-1", kind="car"))
    with db.session() as s:
        zone = Zone(name="Depot", kind="parking", ring="[]", created_at=OLD, updated_at=OLD)
        s.add(zone)
        s.flush()
        for at in (OLD, RECENT):
            s.add(
                ZoneEvent(
                    vehicle_id=vehicle,
                    zone_id=zone.id,
                    event="enter",
                    at=at,
                    latitude=52.5,
                    longitude=13.4,
                )
            )
        for label, at, state, retry in (
            ("old sent", OLD, "sent", None),
            ("old given up", OLD, "failed", None),
            ("old retrying", OLD, "failed", NOW + timedelta(minutes=5)),
            ("old queued", OLD, "queued", None),
            ("recent sent", RECENT, "sent", None),
        ):
            s.add(
                Notification(
                    alert_id=None,
                    channel="email",
                    recipient="ops@example.org",
                    subject=label,
                    state=state,
                    created_at=at,
                    updated_at=at,
                    next_attempt_at=retry,
                )
            )
        for at, state in (
            (OLD, "linked"),
            (OLD, "failed"),
            (OLD, "timed_out"),
            (OLD, "queued"),
            (OLD, "working"),
            (NOW - timedelta(days=6), "linked"),  # within the 7 days,
        ):
            s.add(
                ConnectRequest(
                    vehicle_id=vehicle,
                    action="connect",
                    state=state,
                    created_at=at,
                    updated_at=at,
                )
            )


def left(db: Database) -> tuple[list[datetime], list[str], list[str]]:
    """(zone event times, notification subjects, connect request states) still stored."""
    with db.session() as s:
        return (
            list(s.scalars(select(ZoneEvent.at).order_by(ZoneEvent.id))),
            list(s.scalars(select(Notification.subject).order_by(Notification.id))),
            list(s.scalars(select(ConnectRequest.state).order_by(ConnectRequest.id))),
        )


#: What the default retention leaves of :func:`seed` at ``NOW``.
KEPT_BY_DEFAULT = (
    [RECENT],
    ["old retrying", "old queued", "recent sent"],
    ["queued", "working", "linked"],
)
#: How many rows per table the default retention removes from :func:`seed`.
PRUNED_BY_DEFAULT = {"zone_event": 1, "notification": 2, "connect_request": 3}
