"""Where the app's own files (``resources/``) are, from a checkout and from a frozen bundle.

The one place that knows about PyInstaller's ``sys._MEIPASS``: the bundle unpacks
``resources/`` next to the code, a checkout has it at the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path


def resources_root() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a file below ``resources/``; FileNotFoundError names it when it is missing."""
    path = resources_root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"resource missing: {path} (is the bundle complete?)")
    return path
