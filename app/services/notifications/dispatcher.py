"""Alerts out of the console: recorded, routed, sent, retried; never in the alert path.

The alert service's ``raised`` listener is :meth:`NotificationDispatcher.alerts_raised`:
sync and cheap, it only queues the alerts and wakes the sender. :meth:`run` (a supervised
worker) routes each queued alert by the rules (app.services.notifications.rules), RECORDS
one ``notification`` row per channel and recipient (state queued) and only then sends,
each send its own task, so a slow SMTP server holds neither the recording nor the desktop
message nor the alert rules. Failures are written on the row with when it is tried next;
rows left waiting by a console that quit are picked up at the next start.

Channels are attached: e-mail here (when enabled), the desktop one by the console's window
(it is Qt). A channel that is unavailable (no SMTP server, no system tray) is skipped and
says why in :meth:`channel_states`; one whose sends fail shows the last error there until
a send succeeds (the status bar and the Notifications window read it, hearing ``changes``).

Each dispatcher sends only the rows addressed to its channels' recipients (a
:data:`~app.models.notifications.Scope`): on a shared database the collector sends the
e-mail and each console, whose dispatcher is built without e-mail, the desktop messages
named after its login and workstation; none takes or fails another's rows. A console
whose login may not write the table (grants older than this version) still shows each
desktop message, unrecorded, and says why once in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.config import ChannelRules, NotificationSettings
from app.listeners import Listeners
from app.models.alerts import OpenAlert
from app.models.database import Database
from app.models.errors import PermissionRefused
from app.models.notifications import (
    NewNotification,
    NotificationRecord,
    NotificationRepository,
    Scope,
)
from app.services.notifications.channels import Channel, EmailChannel, SendFailed
from app.services.notifications.rules import (
    channel_takes,
    compose,
    parse_quiet_hours,
    retry_delay_s,
)
from app.services.waking import wait_woken

logger = logging.getLogger(__name__)

#: Sends in flight per channel: a burst of alerts opens a few SMTP sessions, not hundreds.
CONCURRENT_SENDS = 4
#: The longest the sender sleeps without looking at the table (rows from another start).
IDLE_CHECK_S = 300.0

CHANNEL_LABELS = {"email": "E-mail", "desktop": "Desktop"}


class NotificationUnavailable(Exception):
    """A test e-mail cannot be sent; the message says why (for the operator)."""


@dataclass(frozen=True, slots=True)
class ChannelState:
    """One configured channel: ``unavailable`` why it cannot send at all, ``problem`` the
    last failed attempt while it keeps failing, ``waiting`` rows not sent yet."""

    name: str
    unavailable: str | None
    problem: str | None
    waiting: int

    @property
    def label(self) -> str:
        return CHANNEL_LABELS.get(self.name, self.name)


class NotificationDispatcher:
    def __init__(
        self,
        database: Database,
        settings: NotificationSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        local_time: Callable[[datetime], datetime] = lambda moment: moment.astimezone(),
        sends_email: bool = True,
    ) -> None:
        """``local_time`` turns a UTC moment into the console's local time (quiet hours
        and the text of the messages). ``sends_email`` False: a console on a shared
        database, where the collector sends the e-mail."""
        self._db = database
        self._settings = settings
        self._clock = clock
        self._local = local_time
        self._quiet = parse_quiet_hours(settings.quiet_hours)
        self.repository = NotificationRepository(database)
        self.changes: Listeners[[]] = Listeners("notifications")
        self._channels: dict[str, Channel] = {}
        self._incoming: list[OpenAlert] = []
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._problems: dict[str, str] = {}
        self._waiting: dict[str, int] = {}
        self._unrecorded: set[asyncio.Task[None]] = set()  # shown without a row
        self._unrecorded_said = False
        #: Why no e-mail goes out from this process when it has no e-mail channel, as the
        #: rest of "E-mail: ..." (the Notifications window, the refusal of a test e-mail).
        self.email_off = (
            "off ([notifications.email] enabled = false)"
            if sends_email
            else "sent by the collector of this shared database"
        )
        if sends_email and settings.email.enabled:
            self.attach(EmailChannel(settings.email))

    def _rules(self, channel: str) -> ChannelRules:
        return self._settings.email if channel == "email" else self._settings.desktop

    def attach(self, channel: Channel) -> Callable[[], None]:
        """Send through ``channel`` from now on; returns the detach (a window that closes)."""
        self._channels[channel.name] = channel
        self._limits.setdefault(channel.name, asyncio.Semaphore(CONCURRENT_SENDS))
        reason = channel.unavailable()
        if reason:
            logger.info("%s notifications unavailable: %s", channel.name, reason)
        self.changes.notify()

        def detach() -> None:
            if self._channels.get(channel.name) is channel:
                del self._channels[channel.name]
                self.changes.notify()

        return detach

    def _scope(self) -> Scope:
        """The rows this process sends: its channels' own recipients."""
        return {name: channel.recipients() for name, channel in self._channels.items()}

    def alerts_raised(self, alerts: list[OpenAlert]) -> None:
        """AlertService.raised listener: queue them for the sender; never waits."""
        self._incoming.extend(alerts)
        self._wake.set()

    def channel_states(self) -> list[ChannelState]:
        """The channels this process sends through, for the status bar and the window."""
        return [
            ChannelState(
                name,
                channel.unavailable(),
                self._problems.get(name),
                self._waiting.get(name, 0),
            )
            for name, channel in self._channels.items()
        ]

    async def recent(self, limit: int = 500) -> list[NotificationRecord]:
        return await self._db.run(self.repository.recent, limit)

    async def send_test_email(self) -> list[NotificationRecord]:
        """Record a test e-mail to every recipient and wake the sender; raises
        NotificationUnavailable when e-mail is off or not set up."""
        channel = self._channels.get("email")
        if channel is None:
            raise NotificationUnavailable(f"E-mail: {self.email_off}")
        reason = channel.unavailable()
        if reason:
            raise NotificationUnavailable(f"e-mail cannot be sent: {reason}")
        now = self._clock()
        body = (
            "This is a test e-mail from Fleet Console.\n\n"
            f"Sent at {self._local(now):%Y-%m-%d %H:%M:%S %Z}. Alerts reach this address "
            "the same way."
        )
        items = [
            NewNotification(None, "email", r, "[Fleet Console] Test e-mail", body)
            for r in channel.recipients()
        ]
        records = await self._db.run(self.repository.add, items, now)
        self._wake.set()
        self.changes.notify()
        return records

    async def run(self) -> None:
        """Record what the alerts raised, send what is due, sleep until the next is due."""
        try:
            while True:
                try:
                    await self._record_incoming()
                    await self._start_due()
                    timeout = await self._until_next_due()
                except Exception:
                    logger.exception("notifications: recording or sending failed; will retry")
                    timeout = self._settings.retry_first_s
                await wait_woken(self._wake, timeout)
                self._wake.clear()
        finally:
            for task in [*self._inflight.values(), *self._unrecorded]:
                task.cancel()

    async def _record_incoming(self) -> None:
        if not self._incoming:
            return
        alerts, self._incoming = self._incoming, []
        now = self._clock()
        quiet = self._quiet is not None and self._quiet.contains(self._local(now).time())
        labels = await self._db.run(self.repository.vehicle_labels, {a.vehicle_id for a in alerts})
        items: list[NewNotification] = []
        for alert in alerts:
            for name, channel in list(self._channels.items()):
                if not channel_takes(self._rules(name), alert.kind, alert.severity, quiet=quiet):
                    continue
                if channel.unavailable():
                    continue  # said once at attach, and in channel_states
                vehicle = labels.get(alert.vehicle_id, f"vehicle {alert.vehicle_id}")
                subject, body = compose(alert, vehicle, self._local(alert.first_seen))
                items.extend(
                    NewNotification(alert.id, name, r, subject, body) for r in channel.recipients()
                )
        if quiet:
            logger.info("quiet hours: only critical alerts notified (%d)", len(items))
        if not items:
            return
        try:
            await self._db.run(self.repository.add, items, now)
        except PermissionRefused as refused:
            self._send_unrecorded(items, refused)
            return
        self.changes.notify()

    def _send_unrecorded(self, items: list[NewNotification], refused: PermissionRefused) -> None:
        """The table refused this login's rows: the desktop still shows each message (a
        console must not go silent because of a grant), but nothing is recorded or retried."""
        if not self._unrecorded_said:
            self._unrecorded_said = True
            logger.info(
                "notifications are shown but not recorded: %s (the grants of this version "
                "come with `python main.py roles init`)",
                refused,
            )
        for item in items:
            channel = self._channels.get(item.channel)
            if channel is not None:
                task = asyncio.create_task(self._send_once(item, channel), name="unrecorded")
                self._unrecorded.add(task)
                task.add_done_callback(self._unrecorded.discard)

    async def _send_once(self, item: NewNotification, channel: Channel) -> None:
        async with self._limits[item.channel]:
            try:
                await channel.send(item.recipient, item.subject, item.body)
            except Exception as exc:  # no row to keep it: the log does
                logger.warning("unrecorded %s notification failed: %s", item.channel, exc)

    async def _start_due(self) -> None:
        for row in await self._db.run(self.repository.due, self._clock(), self._scope()):
            channel = self._channels.get(row.channel)
            if row.id in self._inflight or channel is None:  # None: detached meanwhile
                continue
            task = asyncio.create_task(self._send(row, channel), name=f"notification-{row.id}")
            self._inflight[row.id] = task

    async def _until_next_due(self) -> float:
        scope = self._scope()
        self._waiting = await self._db.run(self.repository.waiting, scope)
        self.changes.notify()
        # Rows being sent are left out: their attempt ends with a wake-up, and counting
        # them (due in the past) would spin this loop while a slow server holds them.
        due = await self._db.run(self.repository.next_due, scope, set(self._inflight))
        if due is None:
            return IDLE_CHECK_S
        return min(IDLE_CHECK_S, max(0.0, (due - self._clock()).total_seconds()))

    async def _send(self, row: NotificationRecord, channel: Channel) -> None:
        error: SendFailed | None = None
        try:
            async with self._limits[row.channel]:
                try:
                    await channel.send(row.recipient, row.subject, row.body)
                except SendFailed as exc:
                    error = exc
                except Exception as exc:  # a channel's bug must not lose the row
                    logger.exception("%s channel failed unexpectedly", row.channel)
                    error = SendFailed(f"{type(exc).__name__}: {exc}")
            await self._attempted(row, error)
        finally:
            self._inflight.pop(row.id, None)
            self._wake.set()  # the next due time changed

    async def _attempted(self, row: NotificationRecord, error: SendFailed | None) -> None:
        now = self._clock()
        attempts = row.attempts + 1
        if error is None:
            await self._db.run(self.repository.attempted, row.id, now, error=None)
            self._problems.pop(row.channel, None)
            logger.info("%s notification %d sent to %s", row.channel, row.id, row.recipient)
            self.changes.notify()
            return
        delay = None if error.permanent else retry_delay_s(self._settings, attempts)
        reason = str(error)
        if delay is None:
            reason += "; not retried" if error.permanent else f"; gave up after {attempts} attempts"
        retry_at = None if delay is None else now + timedelta(seconds=delay)
        await self._db.run(self.repository.attempted, row.id, now, error=reason, retry_at=retry_at)
        self._problems[row.channel] = reason
        then = "" if delay is None else f"; retrying in {delay:g} s"
        logger.warning(
            "%s notification %d to %s failed (attempt %d of %d): %s%s",
            row.channel,
            row.id,
            row.recipient,
            attempts,
            self._settings.max_attempts,
            reason,
            then,
        )
        self.changes.notify()
