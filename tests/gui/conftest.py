"""GUI tests: real widgets, offscreen, on the same qasync loop the app uses.

Async tests here run on one qasync QEventLoop (see ``pytest_pyfunc_call`` below), so
``@asyncSlot`` handlers, database executor hand-backs and Qt signals all progress while
the test awaits. Wait with ``tests.helpers.waiting.until``, never with qtbot.waitUntil
inside an async test (it deadlocks, see stack-recipes.md section 4).
"""

from __future__ import annotations

import asyncio
import gc
import inspect

import httpx
import pytest
import qasync
from PySide6.QtCore import QEvent, QEventLoop
from PySide6.QtWidgets import QApplication

from app.config import DemoSettings, Settings, SmartcarSettings
from app.paths import resolve_paths
from app.services.connections.backends import start_backends
from app.services.wiring.bootstrap import open_context
from app.views.main_window import MainWindow
from tests.helpers.nested_loops import NestedLoopGuard
from tests.helpers.waiting import until


class _NestedLoopApp:
    """What qasync drives (exec/exit/eventDispatcher), running a QEventLoop per test.

    qasync runs ``app.exec()`` for every ``run_until_complete``; when QApplication.exec()
    returns it emits aboutToQuit, on which QtWebEngine shuts Chromium down for good, and
    the next web view (map, Connect page) segfaults. A nested QEventLoop never emits it.
    """

    def __init__(self, app: QApplication) -> None:
        self._app = app
        self._loops: list[QEventLoop] = []

    def exec(self) -> int:
        loop = QEventLoop()
        self._loops.append(loop)
        try:
            return loop.exec()
        finally:
            self._loops.pop()

    def exit(self, code: int = 0) -> None:
        if self._loops:
            self._loops[-1].exit(code)

    def eventDispatcher(self):
        return self._app.eventDispatcher()


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_gui_thread(qloop):
    """No automatic cycle collection during a GUI test; one full collection after it.

    Python's cycle collector may otherwise free a Qt wrapper at any moment, in any thread
    (the database thread, say), and crash there; here it runs at a quiet point on the GUI
    thread. The app collects on the GUI thread too (app/views/gc_policy.py).
    """
    gc.disable()
    try:
        yield
    finally:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        gc.enable()


@pytest.fixture(autouse=True)
def nested_loop_guard(monkeypatch):
    """Fails the test if any code path opened a blocking dialog under the running loop.

    The call itself raises (so the code path stops), and the test fails here even when
    the raise happened inside a task or slot whose error would otherwise only be logged.
    """
    guard = NestedLoopGuard()
    with guard.installed(monkeypatch):
        yield guard
    if guard.violations:
        pytest.fail("a modal event loop was entered under asyncio:\n" + guard.violations[0])


@pytest.fixture(scope="session", autouse=True)
def qloop(qapp):
    """One qasync loop for the whole GUI session, as in the app.

    A loop per test (pytest-asyncio's way) leaves Qt timers of closed loops behind, which
    later fire into freed objects and crash the run; one loop for all avoids that.
    """
    loop = qasync.QEventLoop(_NestedLoopApp(qapp))
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` GUI tests to completion on the session's qasync loop."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    funcargs = pyfuncitem.funcargs
    kwargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    loop = funcargs["qloop"]
    before = asyncio.all_tasks(loop)
    loop.run_until_complete(pyfuncitem.obj(**kwargs))
    loop.run_until_complete(_settle(before))
    return True


SETTLE_S = 5.0


async def _settle(before: set[asyncio.Task]) -> None:
    """End, on the running loop, the tasks the test's last actions started and left (the
    detail panel's reloads after a command, say). Left pending, they were stepped by the
    teardown's event processing, where no loop runs, and died with "no running event loop"
    (a flaky ERROR in whichever test ended right after a command)."""
    me = asyncio.current_task()
    pending = {t for t in asyncio.all_tasks() if t not in before and t is not me}
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=SETTLE_S)


@pytest.fixture
def settings():
    # The GUI tests exercise the v2.0 token flows (expiry, refresh, reconnect); the V3
    # path end to end is in tests/integration/services/webhooks.
    return Settings(
        demo=DemoSettings(cars=12, micromobility=8), smartcar=SmartcarSettings(api_version="2.0")
    )


@pytest.fixture
def backends(qloop, settings):
    """The demo Smartcar backend (simulator + client) the test's context is built with."""
    started = qloop.run_until_complete(start_backends(settings, demo=True, offline=False))
    yield started
    qloop.run_until_complete(started.aclose())


@pytest.fixture
def context(request, tmp_path, settings):
    """The console's services on a temporary demo database, as the bootstrap builds them;
    with the demo Smartcar backend when the test also asks for ``backends`` (or ``sim``)."""
    backends = request.getfixturevalue("backends") if "backends" in request.fixturenames else None
    ctx = open_context(settings, resolve_paths(tmp_path / "data").ensure(), backends=backends)
    yield ctx
    ctx.close()


@pytest.fixture
def sim(qloop, backends):
    """An HTTP client on the demo Smartcar simulator (its /_sim control endpoints)."""
    client = httpx.AsyncClient(base_url=backends.simulator.base_url, timeout=10.0)
    yield client
    qloop.run_until_complete(client.aclose())


class Confirmations:
    """Stands in for the Yes/Cancel message box and records what was asked."""

    def __init__(self) -> None:
        self.answer = True
        self.asked: list[str] = []

    async def __call__(self, _parent, title, text) -> bool:
        self.asked.append(f"{title}: {text}")
        return self.answer


@pytest.fixture
def confirmations():
    return Confirmations()


@pytest.fixture
def window_context(context):
    """The context ``window`` opens on: the test's ``context``. A module overrides it for
    another one (an offline review copy) or to store data before the window opens."""
    return context


@pytest.fixture
def window(qtbot, qloop, window_context, confirmations):
    """The main window on ``window_context``, shown, its fleet list loaded; closed after
    the test (before ``window_context`` is torn down)."""
    win = MainWindow(window_context, confirm=confirmations)
    qtbot.addWidget(win)
    win.show()
    win.reload()
    qloop.run_until_complete(until(lambda: win.model.rowCount() > 0, what="the fleet list"))
    yield win
    win.close()
