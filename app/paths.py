"""Every directory the app writes to, resolved in one place, and kept private.

``--data-dir`` relocates all of them (database, settings, logs, caches, backups) so that a
test, a smoke test or a second installation never touches the user's real data.

The database holds where every vehicle has been, the logs name devices and addresses: on
a shared workstation other local users must not read them. ``ensure`` therefore sets the
process umask to 077 (every file created later, including SQLite's ``-wal``/``-shm``,
rotated logs and backups, is 0600 in 0700 directories) and tightens what an older
version left readable.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077


class DataDirError(Exception):
    """The data directory cannot be created or written; the message is for the operator."""


APP_NAME = "FleetConsole"
APP_AUTHOR = "LevyFleets"


@dataclass(frozen=True)
class AppPaths:
    """The directories of one installation; ``ensure()`` creates them."""

    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "fleet.sqlite"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def tile_cache_dir(self) -> Path:
        return self.cache_dir / "tiles"

    @property
    def window_state_file(self) -> Path:
        return self.config_dir / "window-state.ini"

    def ensure(self, *, writable: bool = True) -> AppPaths:
        """Create the directories (0700) and make existing files in them 0600.

        ``writable`` (every mode but review) also proves the data directory takes a file:
        the database and its backups live there, so a read-only one stops the start with a
        DataDirError naming the way out. Log, cache and config directories that cannot be
        created are left to their users: logging falls back to stderr, a missing settings
        file means the defaults.
        """
        os.umask(PRIVATE_UMASK)
        required = (self.data_dir, self.backup_dir) if writable else ()
        for path in (self.data_dir, self.backup_dir, self.config_dir, self.log_dir, self.cache_dir):
            try:
                path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            except OSError as exc:
                if path in required:
                    raise DataDirError(self._not_writable(path, exc)) from None
                continue
            _make_private(path, files=path != self.cache_dir)
        if writable:
            try:
                with tempfile.TemporaryFile(dir=self.data_dir):
                    pass
            except OSError as exc:
                raise DataDirError(self._not_writable(self.data_dir, exc)) from None
        return self

    def _not_writable(self, path: Path, exc: OSError) -> str:
        hint = (
            f"; to look at the data without changing it: main.py --review {self.database_file}"
            if self.database_file.is_file()
            else ""
        )
        return (
            f"the data directory {path} cannot be written ({exc.strerror or exc}). Make it "
            f"writable, or start with --data-dir pointing elsewhere{hint}"
        )


def _make_private(directory: Path, *, files: bool) -> None:
    """0700 on ``directory`` and 0600 on the files directly in it, where they were wider.

    Best effort: a file we may not change (another owner, a read-only medium) is logged,
    not fatal; it was readable before this version too.
    """
    targets = [directory]
    if files:
        targets += [p for p in directory.iterdir() if p.is_file() and not p.is_symlink()]
    for path in targets:
        mode = PRIVATE_DIR if path is directory else PRIVATE_FILE
        try:
            if stat.S_IMODE(path.stat().st_mode) & ~mode:
                path.chmod(mode)
        except OSError as exc:
            logger.warning("cannot make %s private: %s", path, exc)


def resolve_paths(data_dir: Path | None = None) -> AppPaths:
    """The platform's per-user directories, or everything below ``data_dir`` when given."""
    if data_dir is not None:
        root = data_dir.expanduser().resolve()
        return AppPaths(root, root / "config", root / "logs", root / "cache")
    dirs = platformdirs.PlatformDirs(APP_NAME, APP_AUTHOR)
    return AppPaths(
        Path(dirs.user_data_dir),
        Path(dirs.user_config_dir),
        Path(dirs.user_log_dir),
        Path(dirs.user_cache_dir),
    )
