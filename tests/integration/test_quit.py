"""SIGTERM ends a running console the way File → Quit does: flushed, bounded, exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from tests.integration.test_startup import ROOT


async def _read_until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    while True:
        line = (await stream.readline()).decode(errors="replace")
        if not line:
            raise AssertionError(f"the console ended before {marker!r}:\n{''.join(seen)}")
        seen.append(line)
        if marker in line:
            return


@pytest.mark.asyncio
async def test_sigterm_flushes_the_telemetry_writer_and_exits_cleanly(tmp_path):
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    console = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "--data-dir",
        str(tmp_path),
        cwd=ROOT,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        await asyncio.wait_for(_read_until(console.stderr, "IoT gateway on", seen), 90)
        console.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(console.stderr.read(), 60)
        code = await console.wait()
    finally:
        if console.returncode is None:
            console.kill()
            await console.wait()
    log = "".join(seen) + rest.decode(errors="replace")
    assert code == 0, log
    assert "SIGTERM received: quitting" in log
    assert "background task telemetry-writer drained" in log  # the queue was written
    for problem in ("did not stop", "Task was destroyed", "was never awaited", "Traceback"):
        assert problem not in log, log
