"""The headless collector: no Qt, one leader, failover on SIGKILL, clean SIGTERM."""

from __future__ import annotations

import signal

import psycopg
import pytest

from app.services.change_feed import libpq_dsn
from app.services.wiring.leader import COLLECTOR_LOCK_ID
from tests.helpers.waiting import until
from tests.integration.shared.collectors import CollectorProcess, write_settings


def _leader_locks(url: str) -> int:
    with psycopg.connect(libpq_dsn(url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s",
            (COLLECTOR_LOCK_ID & 0xFFFFFFFF,),
        ).fetchone()
    return row[0]


@pytest.mark.asyncio
async def test_one_collector_leads_and_a_standby_takes_over_when_it_is_killed(tmp_path, pg_url):
    first = CollectorProcess(pg_url, write_settings(tmp_path / "a"))
    second: CollectorProcess | None = None
    try:
        await until(lambda: first.saw("collector: LEADER"), 60, "the first collector to lead")
        assert first.saw("Qt modules loaded: none"), first.output()
        assert "telemetry-writer" in first.output()
        second = CollectorProcess(pg_url, write_settings(tmp_path / "b"))
        await until(lambda: second.saw("standby"), 60, "the second collector to stand by")
        assert not second.saw("collector: LEADER")
        assert _leader_locks(pg_url) == 1

        first.proc.send_signal(signal.SIGKILL)
        first.finish()
        await until(lambda: second.saw("collector: LEADER"), 10, "the standby to take over")
        assert _leader_locks(pg_url) == 1

        second.proc.send_signal(signal.SIGTERM)
        assert second.finish() == 0, second.output()
        assert second.saw("collector: stopped")
        # The console's bounded stop: the write queue drained, nothing left running.
        assert second.saw("SIGTERM received: quitting")
        assert second.saw("background task telemetry-writer drained"), second.output()
        assert not second.saw("did not stop"), second.output()
        assert (tmp_path / "b" / "logs" / "collector.log").read_text().count("LEADER") == 1
        assert _leader_locks(pg_url) == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_collector_refuses_a_sqlite_database(tmp_path):
    proc = CollectorProcess(f"sqlite:///{tmp_path / 'x.sqlite'}", write_settings(tmp_path))
    assert proc.finish() == 2
    assert "needs a PostgreSQL database" in proc.output()
