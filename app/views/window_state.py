"""Where the console remembers its windows between starts: one INI file in the config
directory (``AppPaths.window_state_file``), read and written only by the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.paths import AppPaths


def window_state(paths: AppPaths) -> QSettings:
    return QSettings(str(paths.window_state_file), QSettings.Format.IniFormat)
