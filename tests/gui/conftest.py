"""GUI tests: real widgets, offscreen, on the same qasync loop the app uses.

Async tests here run on a qasync QEventLoop (pytest-asyncio's loop-factory hook), so
``@asyncSlot`` handlers, database executor hand-backs and Qt signals all progress while
the test awaits. Wait with ``tests.helpers.waiting.until``, never with qtbot.waitUntil
inside an async test (it deadlocks, see stack-recipes.md section 4).
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import qasync
from PySide6.QtWidgets import QApplication

from app.config import DemoSettings, Settings
from app.paths import resolve_paths
from app.services.runtime import open_context
from app.views.main_window import MainWindow
from tests.helpers.waiting import until


def pytest_asyncio_loop_factories(config, item):
    return {"qasync": lambda: qasync.QEventLoop(QApplication.instance() or QApplication([]))}


@pytest.fixture
def settings():
    return Settings(demo=DemoSettings(cars=12, micromobility=8))


@pytest.fixture
def context(tmp_path, settings):
    ctx = open_context(settings, resolve_paths(tmp_path / "data").ensure())
    yield ctx
    ctx.close()


class Confirmations:
    """Stands in for the Yes/Cancel message box and records what was asked."""

    def __init__(self) -> None:
        self.answer = True
        self.asked: list[str] = []

    def __call__(self, _parent, title, text) -> bool:
        self.asked.append(f"{title}: {text}")
        return self.answer


@pytest.fixture
def confirmations():
    return Confirmations()


@pytest_asyncio.fixture
async def window(qtbot, context, confirmations):
    win = MainWindow(context, confirm=confirmations)
    qtbot.addWidget(win)
    win.show()
    win.reload()
    await until(lambda: win.model.rowCount() > 0, what="the fleet list to load")
    yield win
    win.close()
