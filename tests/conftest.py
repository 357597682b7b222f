"""Test-wide set-up: headless Qt, QtWebEngine as root, and temp directories.

The environment variables must be set before any QApplication exists (pytest-qt creates it
lazily), which is why they sit at import time of the root conftest.
"""

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.models.database import Database, sqlite_url

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")

pytest_plugins = ["pytester"]  # tests/unit/test_log_guard.py runs pytest on sample tests


@pytest.fixture
def db_url(tmp_path) -> str:
    """Where ``db`` lives: a SQLite file in the test's temp dir (the shared-mode tests
    override it with a fresh PostgreSQL database)."""
    return sqlite_url(tmp_path / "fleet.sqlite")


@pytest.fixture
def db_migrated() -> bool:
    """Whether ``db`` comes migrated to the head revision; a test module that migrates
    step by step itself overrides it with False."""
    return True


@pytest.fixture
def db(db_url: str, db_migrated: bool) -> Iterator[Database]:
    """The test's database (the schema migrated in, see ``db_migrated``), closed after it."""
    database = Database(db_url)
    try:
        if db_migrated:
            database.migrate()
        yield database
    finally:
        database.close()


@dataclass(frozen=True)
class ExpectedLog:
    """A WARNING-or-worse record a test declares: ``logger`` (a dotted prefix, or None for
    any), the lowest ``level`` it may have and a ``match`` regex searched in its message."""

    logger: str | None
    match: str
    level: int = logging.WARNING

    def allows(self, record: logging.LogRecord) -> bool:
        if self.logger is not None and not (
            record.name == self.logger or record.name.startswith(self.logger + ".")
        ):
            return False
        return (
            record.levelno >= self.level and re.search(self.match, record.getMessage()) is not None
        )


class _WarningTrap(logging.Handler):
    """Keeps every WARNING-or-worse record of one test, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "expect_log(logger, match, level='WARNING'): the test expects WARNING-or-worse log "
        "records from `logger` (dotted prefix; None for any) whose message matches `match`",
    )


@pytest.fixture
def expect_log(request):
    """``expect_log("app.services.iot.ingest", "refused")`` inside a test: the same as the
    marker, for records a test can only describe once it runs."""
    declared = request.node.stash.setdefault(_DECLARED, [])

    def declare(logger: str | None, match: str = ".*", level: str = "WARNING") -> None:
        declared.append(_expected(logger, match, level))

    return declare


def _expected(logger: str | None = None, match: str = ".*", level: str = "WARNING") -> ExpectedLog:
    return ExpectedLog(logger, match, logging.getLevelName(level))


_DECLARED = pytest.StashKey[list]()


@pytest.fixture(autouse=True)
def _no_unexpected_warnings(request):
    """A WARNING or worse logged during a test fails it unless the test declares it.

    Warnings that pass silently hide real problems (a listener that failed, a retry loop,
    a Qt complaint: app/views/qt_logging.py routes Qt's own warnings into logging, and
    pytest-qt fails tests on Qt warnings it captures itself, ``qt_log_level_fail``). A
    test that provokes a warning on purpose (bad frames, a dead database, an unplugged
    port) says which with ``@pytest.mark.expect_log(...)`` or the ``expect_log`` fixture.
    """
    trap = _WarningTrap()
    root = logging.getLogger()
    root.addHandler(trap)
    declared = request.node.stash.setdefault(_DECLARED, [])
    declared.extend(_expected(*m.args, **m.kwargs) for m in request.node.iter_markers("expect_log"))
    try:
        yield
    finally:
        root.removeHandler(trap)
    unexpected = [r for r in trap.records if not any(e.allows(r) for e in declared)]
    if not unexpected:
        return
    lines = [f"{r.levelname} {r.name}: {r.getMessage()[:300]}" for r in unexpected]
    pytest.fail(
        f"{len(unexpected)} unexpected WARNING-or-worse log record(s) (declare them with "
        "@pytest.mark.expect_log if the test provokes them):\n  " + "\n  ".join(lines[:20]),
        pytrace=False,
    )
