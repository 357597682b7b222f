"""The retention sweep on a real SQLite database: old history goes, work in flight and
recent rows stay, 0 days keeps a table for ever, and it runs where the alert rules run."""

from __future__ import annotations

import pytest

from app.config import RetentionSettings, Settings
from app.paths import resolve_paths
from app.services.retention import Retention
from app.services.wiring.bootstrap import open_context
from tests.helpers import retention_rows
from tests.helpers.retention_rows import KEPT_BY_DEFAULT, NOW, PRUNED_BY_DEFAULT
from tests.helpers.workers import spawned_workers


@pytest.mark.asyncio
async def test_old_finished_rows_go_and_unfinished_or_recent_ones_stay(db):
    retention_rows.seed(db)
    retention = Retention(db, RetentionSettings(), clock=lambda: NOW)
    assert await retention.prune_now() == PRUNED_BY_DEFAULT
    assert retention_rows.left(db) == KEPT_BY_DEFAULT
    assert await retention.prune_now() == {t: 0 for t in PRUNED_BY_DEFAULT}  # nothing twice


@pytest.mark.asyncio
async def test_zero_days_keeps_a_table_for_ever(db):
    retention_rows.seed(db)
    before = retention_rows.left(db)
    keep_all = RetentionSettings(zone_event_days=0, notification_days=0, connect_request_days=0)
    assert await Retention(db, keep_all, clock=lambda: NOW).prune_now() == {}
    assert retention_rows.left(db) == before


def test_the_sweep_runs_where_the_alert_rules_run(tmp_path, monkeypatch):
    """A standalone console sweeps: it stores telemetry and runs the alert rules."""
    demo = open_context(Settings(), resolve_paths(tmp_path / "demo").ensure())
    try:
        assert demo.retention is not None
        assert "retention" in spawned_workers(demo, monkeypatch)
    finally:
        demo.close()
