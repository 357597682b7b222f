"""Notifications on a shared PostgreSQL database: the collector records and sends them
(it runs the alert rules); a console sends none of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.models.notifications import FAILED, SENT, NewNotification, NotificationRepository
from app.paths import resolve_paths
from app.services.connections.backends import Backends
from app.services.wiring.bootstrap import OpenedDatabase, assemble
from app.services.wiring.context import Mode, Role

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_the_collector_notifies_and_consoles_do_not(db, tmp_path):
    opened = OpenedDatabase(Settings(), resolve_paths(tmp_path / "data").ensure(), db, Mode.SHARED)
    collector = assemble(opened, Backends(), role=Role.COLLECTOR)
    console = assemble(opened, Backends(), role=Role.CONSOLE)
    assert collector.notifications is not None and len(collector.alerts.raised) == 1
    assert console.notifications is None


def test_records_attempts_and_retries_round_trip(db):
    repo = NotificationRepository(db)
    [a, b] = repo.add(
        [NewNotification(None, "email", f"{n}@x.test", "Subject", "Body") for n in "ab"], T0
    )
    assert [r.id for r in repo.due(T0)] == [a.id, b.id]
    retry = T0 + timedelta(seconds=30)
    repo.attempted(a.id, T0, error="cannot connect", retry_at=retry)
    repo.attempted(b.id, T0, error=None)
    assert repo.due(T0) == [] and [r.id for r in repo.due(retry)] == [a.id]
    assert repo.next_due() == retry and repo.next_due({a.id}) is None
    assert repo.waiting() == {"email": 1}
    [newest, oldest] = repo.recent()
    assert (newest.state, newest.attempts, newest.sent_at) == (SENT, 1, T0)
    assert (oldest.state, oldest.attempts, oldest.last_error) == (FAILED, 1, "cannot connect")
