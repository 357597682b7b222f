"""E-mail notifications against a real SMTP server process (aiosmtpd), and against one
that is down, one that stalls and one that refuses the login."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.models.notifications import FAILED, SENT, NotificationRepository
from app.services.notifications.dispatcher import NotificationDispatcher
from tests.helpers.smtp_server import SmtpServer, free_port
from tests.helpers.tls_cert import make_server_cert
from tests.helpers.waiting import until
from tests.integration.services.notifications.conftest import Fleet, email_settings

pytestmark = pytest.mark.asyncio
FAILURE_LOG = "app.services.notifications.dispatcher"
#: The rows of the refused-login test's one recipient (a scope for ``due``).
MAIL = {"email": ("a@x.test",)}


@pytest.fixture
def fleet(db) -> Fleet:
    return Fleet(db)


@pytest.fixture
def smtp(tmp_path) -> AsyncIterator[SmtpServer]:
    server = SmtpServer(free_port(), tmp_path / "mail")
    try:
        yield server
    finally:
        server.stop()


def dispatcher_for(fleet: Fleet, settings) -> NotificationDispatcher:
    dispatcher = NotificationDispatcher(fleet.db, settings)
    fleet.alerts.raised.subscribe(dispatcher.alerts_raised)
    return dispatcher


async def records(dispatcher: NotificationDispatcher):
    return await dispatcher.recent()


async def test_an_alert_is_mailed_to_each_recipient_and_recorded_sent(fleet, smtp, running):
    smtp.start()
    dispatcher = dispatcher_for(fleet, email_settings(smtp.port))
    running(dispatcher)
    await fleet.low_fuel()
    await until(lambda: len(smtp.messages()) == 2, what="two e-mails received")
    received = {rcpt[0]: message for rcpt, message in smtp.messages()}
    assert set(received) == {"ops@fleet.test", "night@fleet.test"}
    message = received["ops@fleet.test"]
    assert message["Subject"] == "[Fleet Console] Warning: Low fuel - Car 0 [C-0]"
    assert message["From"] == "console@fleet.test" and message["To"] == "ops@fleet.test"
    assert "Low fuel (warning) on Car 0 [C-0]" in message.get_content()
    sent = []

    async def all_sent() -> bool:
        sent[:] = await records(dispatcher)
        return all(r.state == SENT for r in sent)

    await until_async(all_sent)
    assert [(r.state, r.attempts, r.last_error) for r in sent] == [(SENT, 1, "")] * 2
    alert_id = (await fleet.alerts.inbox())[0].id
    assert {r.alert_id for r in sent} == {alert_id}
    assert dispatcher.channel_states()[0].problem is None


async def until_async(check, timeout: float = 10.0) -> None:
    """``until`` for a check that must read the database (awaited each round)."""
    done = False

    async def poll() -> None:
        nonlocal done
        while not (done := await check()):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.expect_log(FAILURE_LOG, match="cannot connect")
async def test_server_down_is_recorded_failed_then_sent_when_it_is_back(fleet, smtp, running):
    dispatcher = dispatcher_for(
        fleet, email_settings(smtp.port, email={"recipients": ["a@x.test"]})
    )
    running(dispatcher)
    await fleet.low_fuel()

    async def failed_once() -> bool:
        rows = await records(dispatcher)
        return bool(rows) and rows[0].state == FAILED and rows[0].attempts >= 1

    await until_async(failed_once)
    [row] = await records(dispatcher)
    assert "cannot connect to SMTP server 127.0.0.1" in row.last_error
    assert row.next_attempt_at is not None  # retried, with a backoff
    state = dispatcher.channel_states()[0]
    assert state.problem is not None and "cannot connect" in state.problem
    smtp.start()
    await until(lambda: len(smtp.messages()) == 1, what="the e-mail after the server is back")

    async def sent() -> bool:
        return (await records(dispatcher))[0].state == SENT

    await until_async(sent)
    await until(lambda: dispatcher.channel_states()[0].problem is None, what="problem cleared")


@pytest.mark.expect_log(FAILURE_LOG, match="cannot connect")
async def test_the_record_survives_a_failed_send_and_a_restart(fleet, smtp, running):
    settings = email_settings(smtp.port, email={"recipients": ["a@x.test"]}, retry_first_s=60)
    first = dispatcher_for(fleet, settings)
    task = asyncio.create_task(first.run())
    await fleet.low_fuel()

    async def failed() -> bool:
        rows = await records(first)
        return bool(rows) and rows[0].state == FAILED

    await until_async(failed)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    smtp.start()
    # A console started again sends what the last one left, when its retry is due.
    [left] = await fleet.db.run(NotificationRepository(fleet.db).recent)
    assert left.state == FAILED and left.next_attempt_at is not None
    due = left.next_attempt_at
    again = NotificationDispatcher(fleet.db, settings, clock=lambda: due)  # its retry is due
    running(again)
    await until(lambda: len(smtp.messages()) == 1, what="the left-over e-mail")
    assert smtp.messages()[0][0] == ["a@x.test"]


@pytest.mark.expect_log(FAILURE_LOG, match="did not answer within")
async def test_a_stalled_server_fails_the_attempt_and_never_holds_the_alerts(fleet, running):
    accepted = asyncio.Event()

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()  # no greeting, ever
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = email_settings(
            port, email={"recipients": ["a@x.test"], "timeout_s": 1.5}, max_attempts=1
        )
        dispatcher = dispatcher_for(fleet, settings)
        running(dispatcher)
        await fleet.low_fuel(0)
        await asyncio.wait_for(accepted.wait(), 5)
        # The first e-mail is stuck in the SMTP greeting; alerts still go on at full speed
        # and the next one is recorded at once.
        loop = asyncio.get_running_loop()
        started = loop.time()
        await fleet.low_fuel(1)
        assert loop.time() - started < 1.0

        async def both_recorded_first_pending() -> bool:
            rows = await records(dispatcher)
            return len(rows) == 2 and rows[-1].attempts == 0

        await until_async(both_recorded_first_pending, timeout=1.0)
        looks = []
        real_due = dispatcher.repository.due
        dispatcher.repository.due = lambda now, scope: looks.append(now) or real_due(now, scope)  # type: ignore[method-assign]

        async def both_failed() -> bool:
            rows = await records(dispatcher)
            return len(rows) == 2 and all(r.state == FAILED for r in rows)

        await until_async(both_failed)
        # While the server held both sends the sender slept (no loop over the table).
        assert len(looks) < 10
        row = (await records(dispatcher))[-1]
        assert "did not answer within 1.5 s; gave up after 1 attempts" in row.last_error
        assert row.next_attempt_at is None
    finally:
        server.close()


@pytest.mark.expect_log(FAILURE_LOG, match="login refused")
async def test_a_refused_login_fails_with_the_reason_and_is_not_retried(
    fleet, tmp_path, running, monkeypatch
):
    monkeypatch.setenv("FLEET_SMTP_PASSWORD", "not-the-password")
    server = SmtpServer(free_port(), tmp_path / "mail", refuse_login=True)
    server.start()
    try:
        settings = email_settings(
            server.port, email={"recipients": ["a@x.test"], "username": "fleet"}
        )
        dispatcher = dispatcher_for(fleet, settings)
        running(dispatcher)
        await fleet.low_fuel()

        async def failed() -> bool:
            rows = await records(dispatcher)
            return bool(rows) and rows[0].state == FAILED

        await until_async(failed)
        [row] = await records(dispatcher)
        assert "login refused by 127.0.0.1" in row.last_error and "not retried" in row.last_error
        assert "not-the-password" not in row.last_error
        assert row.attempts == 1 and row.next_attempt_at is None
        assert await fleet.db.run(dispatcher.repository.due, row.updated_at, MAIL) == []
        assert server.messages() == []
    finally:
        server.stop()


async def test_quiet_hours_send_only_critical_alerts(fleet, smtp, running):
    smtp.start()
    settings = email_settings(
        smtp.port,
        email={"recipients": ["a@x.test"], "min_severity": "info"},
        quiet_hours="22:00-06:00",
    )
    # 23:30 in the console's time zone, whatever the machine running the test says.
    late = lambda moment: moment.replace(hour=23, minute=30)  # noqa: E731
    dispatcher = NotificationDispatcher(fleet.db, settings, local_time=late)
    fleet.alerts.raised.subscribe(dispatcher.alerts_raised)
    running(dispatcher)
    await fleet.low_fuel(0)  # a warning: held back at night
    await fleet.unlocked(1)  # critical: goes out
    await until(lambda: len(smtp.messages()) == 1, what="the critical e-mail")
    [(_rcpt, message)] = smtp.messages()
    assert message["Subject"].startswith("[Fleet Console] Critical: Unlocked outside a rental")
    rows = await records(dispatcher)
    assert [r.subject for r in rows] == [message["Subject"]]  # the warning was not recorded


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_login_with_the_password_from_the_environment(
    fleet, tmp_path, running, monkeypatch, security
):
    ca, cert, key = make_server_cert(tmp_path)
    monkeypatch.setenv("FLEET_SMTP_PASSWORD", "s3cret")
    server = SmtpServer(
        free_port(),
        tmp_path / "mail",
        login="fleet:s3cret",
        tls=(cert, key),
        implicit_tls=security == "tls",
    )
    server.start()
    try:
        settings = email_settings(
            server.port,
            email={
                "recipients": ["a@x.test"],
                "username": "fleet",
                "security": security,
                "ca_file": str(ca),
            },
        )
        dispatcher = dispatcher_for(fleet, settings)
        running(dispatcher)
        await fleet.low_fuel()
        await until(lambda: len(server.messages()) == 1, what="the e-mail over TLS")
        assert server.messages()[0][0] == ["a@x.test"]
    finally:
        server.stop()
