"""Private data: 0700 directories, 0600 files, also for what an older version left open."""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import closing

import pytest

from app.paths import DataDirError, resolve_paths


@pytest.fixture(autouse=True)
def restore_umask():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_existing_files_and_directories_are_made_private(tmp_path) -> None:
    os.umask(0o022)  # what the older version ran with
    root = tmp_path / "data"
    for sub in ("", "logs", "backups", "config"):
        (root / sub).mkdir(exist_ok=True, mode=0o755)
    old_files = [
        root / "fleet.sqlite",
        root / "fleet.sqlite-wal",
        root / "fleet.sqlite-shm",
        root / "logs" / "fleet-console.log.1",
        root / "backups" / "fleet-0001-x.sqlite",
        root / "config" / "settings.toml",
    ]
    for path in old_files:
        path.write_text("x")
        path.chmod(0o644)
    paths = resolve_paths(root).ensure()
    for directory in (paths.data_dir, paths.log_dir, paths.backup_dir, paths.config_dir):
        assert mode(directory) == 0o700, directory
    for path in old_files:
        assert mode(path) == 0o600, path


def test_files_created_afterwards_are_private_including_sqlite_wal(tmp_path) -> None:
    os.umask(0o022)
    paths = resolve_paths(tmp_path / "fresh").ensure()
    with closing(sqlite3.connect(paths.database_file)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
        db.commit()
        for suffix in ("", "-wal", "-shm"):
            assert mode(paths.data_dir / f"fleet.sqlite{suffix}") == 0o600, suffix
    (paths.log_dir / "new.log").write_text("x")
    assert mode(paths.log_dir / "new.log") == 0o600


def test_a_data_dir_that_cannot_be_created_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "blocked").write_text("a file, not a directory")
    with pytest.raises(DataDirError, match=r"cannot be written.*--data-dir"):
        resolve_paths(tmp_path / "blocked" / "data").ensure()
