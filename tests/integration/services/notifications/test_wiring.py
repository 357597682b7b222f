"""The bootstrap puts the dispatcher beside the alert rules and the workers run it."""

from __future__ import annotations

import pytest

from app.config import DemoSettings, Settings
from app.paths import resolve_paths
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import AppContext
from tests.helpers.workers import spawned_workers


@pytest.fixture
def demo(tmp_path):
    settings = Settings(demo=DemoSettings(cars=2, micromobility=1))
    ctx = open_context(settings, resolve_paths(tmp_path / "data").ensure())
    yield ctx
    ctx.close()


def test_a_demo_console_notifies_the_alerts_it_raises(demo: AppContext):
    dispatcher = demo.notifications
    assert dispatcher is not None
    assert len(demo.alerts.raised) == 1  # the dispatcher hears every new alert
    # Demo mode: no SMTP server is configured, so e-mail is off; the desktop channel is
    # attached by the console's window (app.views.notification_tray).
    assert dispatcher.channel_states() == []


@pytest.mark.asyncio
async def test_the_sender_runs_as_a_supervised_worker(demo: AppContext, monkeypatch):
    spawned = spawned_workers(demo, monkeypatch)
    assert "notifications" in spawned and spawned.index("notifications") > spawned.index("alerts")
