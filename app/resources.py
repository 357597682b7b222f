"""Where the app's own files (``resources/``) are, from a checkout and from a frozen bundle.

The one place that knows about PyInstaller's ``sys._MEIPASS``: the bundle unpacks
``resources/`` next to the code, a checkout has it at the repository root. The same goes
for the map page's npm packages (``web/node_modules/`` in a checkout, installed by make
from ``web/package-lock.json``; ``web/`` in the bundle).
"""

from __future__ import annotations

import sys
from pathlib import Path


def _bundle() -> Path | None:
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if getattr(sys, "frozen", False) and bundle else None


def resources_root() -> Path:
    bundle = _bundle()
    if bundle is not None:
        return bundle / "resources"
    return Path(__file__).resolve().parents[1] / "resources"


def web_packages_root() -> Path:
    """Where the npm packages the map page serves are (they may be missing: the page
    then goes without what they add)."""
    bundle = _bundle()
    if bundle is not None:
        return bundle / "web"
    return Path(__file__).resolve().parents[1] / "web" / "node_modules"


def resource_path(*parts: str) -> Path:
    """Path of a file below ``resources/``; FileNotFoundError names it when it is missing."""
    path = resources_root().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"resource missing: {path} (is the bundle complete?)")
    return path
