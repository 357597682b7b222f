"""One table, several senders: a dispatcher takes, fails and counts only the rows of its
own channels' recipients; a shared console's alert feed starts at the newest alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.config import NotificationSettings
from app.models.notifications import QUEUED, SENT, NewNotification, NotificationRepository
from app.services.notifications.alert_feed import AlertFeed
from app.services.notifications.dispatcher import ChannelState, NotificationDispatcher
from tests.helpers.desktop import Desktop
from tests.helpers.waiting import until
from tests.integration.services.notifications.conftest import Fleet

pytestmark = pytest.mark.asyncio


async def test_a_dispatcher_leaves_the_rows_of_other_senders_alone(db, running):
    repo = NotificationRepository(db)
    others_desktop, collectors_mail, mine = repo.add(
        [
            NewNotification(None, "desktop", "ann@ws-1", "For Ann", "B"),
            NewNotification(None, "email", "ops@x.test", "For ops", "B"),
            NewNotification(None, "desktop", "bob@ws-2", "For Bob", "B"),
        ],
        datetime.now(UTC),
    )
    dispatcher = NotificationDispatcher(db, NotificationSettings())  # no e-mail here
    desktop = Desktop("bob@ws-2")
    dispatcher.attach(desktop)
    running(dispatcher)

    def states() -> dict[int, tuple[str, int]]:
        return {r.id: (r.state, r.attempts) for r in repo.recent()}

    await until(lambda: states()[mine.id] == (SENT, 1), what="bob's row sent")
    await until(lambda: dispatcher.channel_states()[0].waiting == 0, what="the recount")
    assert desktop.shown == [("bob@ws-2", "For Bob")]
    assert states() == {
        others_desktop.id: (QUEUED, 0),
        collectors_mail.id: (QUEUED, 0),
        mine.id: (SENT, 1),
    }
    assert dispatcher.channel_states() == [ChannelState("desktop", None, None, 0)]


async def test_the_alert_feed_starts_at_the_newest_alert_and_never_replays(db):
    fleet = Fleet(db)
    await fleet.low_fuel(0)  # history: raised before the console started
    heard: list[list[int | None]] = []
    feed = AlertFeed(db, lambda alerts: heard.append([a.id for a in alerts]))
    assert await feed.read_new() == [] and feed.last_seen is not None
    await fleet.low_fuel(1)
    await fleet.unlocked(2)
    new = [a.id for a in await feed.read_new()]
    assert len(new) == 2 and heard == [new] and feed.last_seen == new[-1]
    assert await feed.read_new() == [] and heard == [new]  # a notice with nothing new
