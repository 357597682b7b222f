"""A data directory that cannot be written: a message and exit 2, never a raw OSError.

Root ignores file modes, so as root the directory is made read-only for real with a
read-only bind mount in a private mount namespace of the child (``unshare -m``): nothing
outside that one process sees it. Other users get a 0555 directory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from app.models.database import Database, sqlite_url

ROOT = Path(__file__).resolve().parents[2]
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run_read_only(read_only: Path, *args: str) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` with ``read_only`` (and all below it) not writable."""
    command = [sys.executable, "main.py", *args]
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    if AS_ROOT:
        if shutil.which("unshare") is None:
            pytest.skip("as root this needs unshare(1) for a read-only bind mount")
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, str(read_only), *command]
    else:
        for path in sorted(read_only.rglob("*"), reverse=True):
            if path.is_dir():
                path.chmod(0o555)
        read_only.chmod(0o555)
    try:
        return subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env
        )
    finally:
        if not AS_ROOT:
            for path in [read_only, *read_only.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o755)


def existing_installation(data_dir: Path) -> Path:
    (data_dir / "logs").mkdir(parents=True)
    database = Database(sqlite_url(data_dir / "fleet.sqlite"))
    database.migrate()
    database.close()
    return data_dir / "fleet.sqlite"


@pytest.mark.parametrize("tool", [(), ("collect",)], ids=["console", "collector"])
def test_fresh_installation_below_a_read_only_dir(tmp_path, tool) -> None:
    data_dir = tmp_path / "ro" / "data"
    (tmp_path / "ro").mkdir()
    result = run_read_only(
        tmp_path / "ro", *tool, "--data-dir", str(data_dir), *(() if tool else ("--smoke-test",))
    )
    assert result.returncode == 2, result.stderr
    assert f"the data directory {data_dir} cannot be written" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("tool", [(), ("collect",)], ids=["console", "collector"])
def test_existing_installation_in_a_read_only_dir(tmp_path, tool) -> None:
    database = existing_installation(tmp_path / "data")
    before = database.read_bytes()
    result = run_read_only(tmp_path / "data", *tool, "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2, result.stderr
    assert "cannot be written" in result.stderr
    assert f"--review {database}" in result.stderr
    assert "Traceback" not in result.stderr
    assert database.read_bytes() == before


def test_review_mode_runs_with_a_read_only_data_dir(tmp_path) -> None:
    data_dir = tmp_path / "data"
    existing_installation(data_dir)
    copy = tmp_path / "review.sqlite"
    with (
        closing(sqlite3.connect(data_dir / "fleet.sqlite")) as src,
        closing(sqlite3.connect(copy)) as dst,
    ):
        src.backup(dst)
    result = run_read_only(
        data_dir, "--data-dir", str(data_dir), "--review", str(copy), "--smoke-test"
    )
    assert result.returncode == 0, result.stderr
    assert "logging to stderr only" in result.stderr
    assert "main window shown" in result.stderr and "Traceback" not in result.stderr
