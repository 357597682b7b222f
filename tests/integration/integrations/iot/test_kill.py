"""SIGKILL under load: after every restart each acknowledged frame is in the database.

A real process (``tests/helpers/iot_harness.py``: the real gateway, ingest and writer on
SQLite) is killed with SIGKILL at seeded random moments while real GT06 trackers on real
TCP report as fast as they are answered. After each kill the file passes SQLite's
integrity check and holds every reading a tracker got an ACK for; the trackers log in
again to the restarted process and go on. ``KILL_TEST_ROUNDS`` (``make soak``) runs more.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.models.database import Database, sqlite_url
from app.services.vehicles.validation import luhn_complete
from tests.helpers.gt06_device import Gt06Device, fix_time
from tests.helpers.iot_fleet import register_gt06
from tests.helpers.waiting import until

ROOT = Path(__file__).resolve().parents[4]
ROUNDS = int(os.environ.get("KILL_TEST_ROUNDS", "5"))
TRACKERS = 6
SEED = int(os.environ.get("KILL_TEST_SEED", "1414"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def registered_fleet(path: Path) -> dict[str, int]:
    """IMEI -> vehicle id of the trackers, in a freshly migrated database."""
    imeis = [luhn_complete(f"35700000000{n:03d}") for n in range(TRACKERS)]
    with Database(sqlite_url(path)) as database:
        database.migrate()
        return register_gt06(database, imeis)


def stored(path: Path) -> tuple[str, set[tuple[int, datetime]]]:
    """The integrity check's verdict and every (vehicle, fix time) stored, as a new reader."""
    with closing(sqlite3.connect(path)) as db:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT vehicle_id, recorded_at FROM telemetry_sample").fetchall()
    return verdict, {(v, datetime.fromisoformat(t).replace(tzinfo=UTC)) for v, t in rows}


async def start_harness(path: Path, port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.helpers.iot_harness",
        str(path),
        str(port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line.strip() == b"ready", line
    return process


async def keep_reporting(device: Gt06Device, serials: Iterator[int]) -> None:
    """Report a new fix whenever the previous ones are answered (at most 4 in flight)."""
    sent: list[int] = []
    while not device.closed.is_set():
        if len([s for s in sent[-4:] if s not in device.acked]) < 4:
            serial = next(serials)
            sent.append(serial)
            device.report(serial)
        await asyncio.sleep(0.002)  # pacing only: the test waits on ACK counts, not time


async def run_until_killed(
    path: Path, port: int, serials: dict[str, Iterator[int]], kill_after: int
) -> dict[str, set[int]]:
    """Start the harness, let the trackers report until ``kill_after`` ACKs, SIGKILL it.

    Returns the serials each tracker got acknowledged in this round.
    """
    process = await start_harness(path, port)
    devices = [Gt06Device(imei, "127.0.0.1", port) for imei in serials]
    await asyncio.gather(*(d.login() for d in devices))
    reporters = [asyncio.create_task(keep_reporting(d, serials[d.imei])) for d in devices]
    await until(
        lambda: sum(len(d.acked) for d in devices) >= kill_after,
        timeout=30,
        what=f"{kill_after} ACKs",
    )
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    await asyncio.gather(*(asyncio.wait_for(d.closed.wait(), 10) for d in devices))
    await asyncio.gather(*reporters)
    for device in devices:
        await device.close()
    return {d.imei: d.acked for d in devices}


@pytest.mark.asyncio
async def test_sigkill_never_loses_an_acknowledged_frame(tmp_path) -> None:
    rng = random.Random(SEED)
    path = tmp_path / "fleet.sqlite"
    fleet = registered_fleet(path)
    port = free_port()
    serials = {imei: iter(range(1, 65_536)) for imei in fleet}  # GT06 serials are 16-bit
    acked: dict[str, set[int]] = {imei: set() for imei in fleet}
    for round_number in range(ROUNDS):
        kill_after = rng.randint(20, 400)  # ACKs this round before the kill
        for imei, serials_acked in (
            await run_until_killed(path, port, serials, kill_after)
        ).items():
            acked[imei] |= serials_acked
        verdict, rows = stored(path)
        assert verdict == "ok", f"round {round_number}: {verdict}"
        missing = sorted(
            (imei, serial)
            for imei, serials_acked in acked.items()
            for serial in serials_acked
            if (fleet[imei], fix_time(serial)) not in rows
        )
        assert not missing, f"round {round_number}: acknowledged, not stored: {missing[:5]}"
    assert sum(len(s) for s in acked.values()) >= ROUNDS * 20
