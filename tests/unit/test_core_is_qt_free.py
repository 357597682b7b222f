"""The core (models, services, integrations) must run headless: no Qt import anywhere in it."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ("app/models", "app/services", "app/integrations")
TOP_LEVEL = ("app/config.py", "app/paths.py", "app/logging_setup.py")
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qasync", "pyqtgraph")


def core_files():
    for folder in CORE:
        yield from (ROOT / folder).rglob("*.py")
    for name in TOP_LEVEL:
        yield ROOT / name


def imported_modules(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_no_core_module_imports_qt():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in core_files()
        for module in imported_modules(path)
        if module.split(".")[0] in QT or module.startswith("app.views")
    ]
    assert offenders == []


def test_core_imports_without_loading_qt():
    # Alembic's env.py only runs inside a migration, so the migrations folder is left out.
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in core_files()
        if "migrations" not in path.parts
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
        "assert not bad, bad\n"
        "print(len(sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
