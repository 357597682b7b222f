"""The retention sweep on PostgreSQL: the collector's login prunes (its grants allow it);
a console, whose people may not delete history, runs no sweep."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.models.database import Database
from app.paths import resolve_paths
from app.services.retention import Retention
from app.services.wiring.bootstrap import open_context
from app.services.wiring.context import Role
from tests.helpers import retention_rows
from tests.helpers.retention_rows import KEPT_BY_DEFAULT, NOW, PRUNED_BY_DEFAULT


@pytest.mark.asyncio
async def test_the_collector_prunes_old_history_and_a_console_does_not_sweep(fleet, tmp_path):
    with Database(fleet.url) as owner:
        retention_rows.seed(owner)
    collector = open_context(
        Settings(),
        resolve_paths(tmp_path / "collector").ensure(),
        db_url=fleet.url_of(fleet.collector, "x"),
        role=Role.COLLECTOR,
    )
    console = open_context(
        Settings(),
        resolve_paths(tmp_path / "console").ensure(),
        db_url=fleet.url_of(fleet.person("dispatcher")),
    )
    try:
        assert console.retention is None and collector.retention is not None
        retention = Retention(collector.database, Settings().retention, clock=lambda: NOW)
        assert await retention.prune_now() == PRUNED_BY_DEFAULT
        assert retention_rows.left(collector.database) == KEPT_BY_DEFAULT
    finally:
        console.close()
        collector.close()
