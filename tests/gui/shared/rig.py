"""One shared PostgreSQL database as a test sees it: a console's window and its collector.

Both are built the way the application builds them (``open_context``; the collector with
its telemetry writer and change publisher, not started), and torn down in the order the
application quits: background tasks first, then the window, then the databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.paths import resolve_paths
from app.services.change_feed import ChangeListener
from app.services.tasks import TaskOwner
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import AppContext, Role
from app.views.live_updates import LiveUpdates
from app.views.main_window import MainWindow
from app.views.shared_feed import start_change_feed
from tests.helpers.waiting import until


@dataclass
class SharedRig:
    console: AppContext
    collector: AppContext
    window: MainWindow
    console_tasks: TaskOwner
    collector_tasks: TaskOwner

    async def show(self, vehicles: int) -> None:
        """The window shown with its fleet list loaded (``vehicles`` rows)."""
        self.window.show()
        self.window.reload()
        await until(lambda: self.window.model.rowCount() == vehicles, what="the fleet list")

    async def listen(self) -> ChangeListener:
        """The console's live updates and change feed, listening, as the app starts them."""
        self.window.live_updates = LiveUpdates(self.window.fleet, self.console.vehicles)
        listener = start_change_feed(self.window, self.console, self.console_tasks)
        await asyncio.wait_for(listener.listening.wait(), 10)
        return listener

    def start_collector_writes(self) -> None:
        """The collector's telemetry writer and its NOTIFY publisher, running."""
        writer, publisher = self.collector.telemetry_writer, self.collector.publisher
        assert writer is not None and publisher is not None
        self.collector_tasks.spawn(writer.run(), "telemetry-writer")
        self.collector_tasks.spawn(publisher.run(), "change-publisher")


@asynccontextmanager
async def shared_rig(qtbot, tmp_path: Path, pg_url: str) -> AsyncIterator[SharedRig]:
    console = open_context(Settings(), resolve_paths(tmp_path / "console").ensure(), db_url=pg_url)
    collector = open_context(
        Settings(),
        resolve_paths(tmp_path / "collector").ensure(),
        db_url=pg_url,
        role=Role.COLLECTOR,
    )
    window = MainWindow(console)
    qtbot.addWidget(window)
    rig = SharedRig(console, collector, window, TaskOwner(), TaskOwner())
    try:
        yield rig
    finally:
        await rig.collector_tasks.shutdown()
        await rig.console_tasks.shutdown()
        window.close()
        collector.close()
        console.close()
