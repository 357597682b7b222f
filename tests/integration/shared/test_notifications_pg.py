"""Notifications on a shared PostgreSQL database: the collector records and sends the
e-mail (it runs the alert rules); each console shows the collector's alerts on its own
desktop and records them, and reads only its own rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.errors import InsufficientPrivilege

from app.config import EmailSettings, NotificationSettings, Settings
from app.models.notifications import FAILED, SENT, NewNotification, NotificationRepository
from app.paths import resolve_paths
from app.services.change_feed import libpq_dsn
from app.services.connections.backends import Backends
from app.services.notifications.dispatcher import NotificationUnavailable
from app.services.wiring.bootstrap import OpenedDatabase, assemble
from app.services.wiring.context import Mode, Role

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.asyncio
async def test_the_collector_mails_and_a_console_notifies_its_desktop_only(db, tmp_path):
    email = EmailSettings(enabled=True, host="127.0.0.1", recipients=("ops@x.test",))
    settings = Settings(notifications=NotificationSettings(email=email))
    opened = OpenedDatabase(settings, resolve_paths(tmp_path / "data").ensure(), db, Mode.SHARED)
    collector = assemble(opened, Backends(), role=Role.COLLECTOR)
    console = assemble(opened, Backends(), role=Role.CONSOLE)
    # The collector's rules raise: its dispatcher and the consoles' notice hear them.
    assert collector.notifications is not None and len(collector.alerts.raised) == 2
    assert [s.name for s in collector.notifications.channel_states()] == ["email"]
    assert collector.alert_feed is None
    # A console raises nothing itself; its dispatcher is fed by the collector's alerts and
    # sends no e-mail (the window attaches the desktop).
    assert console.notifications is not None and console.alert_feed is not None
    assert len(console.alerts.raised) == 0 and console.notifications.channel_states() == []
    with pytest.raises(NotificationUnavailable, match="sent by the collector"):
        await console.notifications.send_test_email()


def test_records_attempts_and_retries_round_trip(db):
    repo = NotificationRepository(db)
    [a, b] = repo.add(
        [NewNotification(None, "email", f"{n}@x.test", "Subject", "Body") for n in "ab"], T0
    )
    mine = {"email": ("a@x.test", "b@x.test")}
    assert [r.id for r in repo.due(T0, mine)] == [a.id, b.id]
    assert repo.due(T0, {"email": ("b@x.test",)}) == [b]
    assert repo.due(T0, {"desktop": ("a@x.test",)}) == [] and repo.due(T0, {}) == []
    retry = T0 + timedelta(seconds=30)
    repo.attempted(a.id, T0, error="cannot connect", retry_at=retry)
    repo.attempted(b.id, T0, error=None)
    assert repo.due(T0, mine) == [] and [r.id for r in repo.due(retry, mine)] == [a.id]
    assert repo.next_due(mine) == retry and repo.next_due(mine, {a.id}) is None
    assert repo.next_due({"email": ("b@x.test",)}) is None
    assert repo.waiting(mine) == {"email": 1} and repo.waiting({}) == {}
    [newest, oldest] = repo.recent()
    assert (newest.state, newest.attempts, newest.sent_at) == (SENT, 1, T0)
    assert (oldest.state, oldest.attempts, oldest.last_error) == (FAILED, 1, "cannot connect")


INSERT = (
    "INSERT INTO notification (channel, recipient, subject, body, state, attempts, "
    "last_error, created_at, updated_at, next_attempt_at) VALUES (%s, %s, 'S', 'B', "
    "'queued', 0, '', now(), now(), now()) RETURNING id"
)


def test_a_persons_login_records_only_its_own_desktop_rows(fleet):
    viewer = fleet.person("viewer")
    with psycopg.connect(libpq_dsn(fleet.url_of(fleet.collector, "x")), autocommit=True) as c:
        [mail] = c.execute(INSERT, ("email", "ops@x.test")).fetchone()  # the collector's
    with fleet.connect(viewer) as conn:
        [own] = conn.execute(INSERT, ("desktop", f"{viewer}@ws-1")).fetchone()
        conn.execute("UPDATE notification SET state = 'sent', attempts = 1 WHERE id = %s", [own])
        # Else a viewer could have the collector mail anything to anyone, or fill another
        # workstation's desktop.
        for channel, recipient in (("email", "anyone@x.test"), ("desktop", "ann@ws-2")):
            with pytest.raises(InsufficientPrivilege, match="only record their own desktop"):
                conn.execute(INSERT, (channel, recipient))
        with pytest.raises(InsufficientPrivilege, match="only record their own desktop"):
            conn.execute("UPDATE notification SET state = 'sent' WHERE id = %s", [mail])
        with pytest.raises(InsufficientPrivilege, match="permission denied"):
            conn.execute("UPDATE notification SET recipient = 'x@y' WHERE id = %s", [own])
        with pytest.raises(InsufficientPrivilege, match="permission denied"):
            conn.execute("DELETE FROM notification WHERE id = %s", [own])
        states = dict(conn.execute("SELECT id, state FROM notification").fetchall())
    assert states == {mail: "queued", own: "sent"}
