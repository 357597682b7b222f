"""Every directory the app writes to, resolved in one place.

``--data-dir`` relocates all of them (database, settings, logs, caches, backups) so that a
test, a smoke test or a second installation never touches the user's real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

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

    def ensure(self) -> AppPaths:
        for path in (self.data_dir, self.config_dir, self.log_dir, self.cache_dir, self.backup_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self


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
