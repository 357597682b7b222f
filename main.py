"""Fleet Console entry point: the desktop console and its command-line tools.

    python main.py [--data-dir DIR] [--db URL] [--review FILE] [--smoke-test]
    python main.py simulator [--port N ...]      the Smartcar simulator alone
    python main.py iot-simulator [...]           the IoT device simulator alone
    python main.py collect --db URL              the headless collector (shared mode)
    python main.py roles init|add|set-role|revoke  people and roles (shared mode)

Start-up order (each step needs the one before):
 1. paths and logging, so everything after can report;
 2. faulthandler into the log dir, for hard crashes;
 3. settings (a bad file stops here with a readable message, exit 2);
 4. QtWebEngine environment (sandbox off as root) and its import, before QApplication;
 5. QApplication, the crash handler and Qt's messages routed into logging;
 6. the database: opened, backed up, migrated (exit 3 with a message if unusable);
 7. one qasync loop runs the window and every background task; on quit every task is
    cancelled and the database closed.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from app.services.wiring.bootstrap import OpenedDatabase
    from app.services.wiring.context import AppContext
    from app.views.gc_policy import GuiGarbageCollection
    from app.views.main_window import MainWindow

logger = logging.getLogger("fleet_console")

TOOLS = ("simulator", "iot-simulator", "collect", "roles", "mqtt-broker")
SMOKE_TEST_TIMEOUT_S = 90


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py",
        description="Fleet Console: operations console for car-sharing and micromobility fleets. "
        f"Tools: {', '.join(TOOLS)} (run 'main.py TOOL --help').",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="keep database, settings, logs and caches here"
    )
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: SQLite in the data dir)"
    )
    parser.add_argument(
        "--review",
        type=Path,
        metavar="FILE",
        help="open a copy of a database read-only (offline review)",
    )
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="start offscreen, show the main window, load the fleet, exit 0",
    )
    return parser.parse_args(argv)


def run_tool(name: str, argv: list[str]) -> int:
    if name == "simulator":
        from app.integrations.smartcar.simulator.cli import main as simulator_main

        return simulator_main(argv)
    if name == "collect":  # shared mode's headless collector; imports no Qt
        from app.collector_cli import main as collector_main

        return collector_main(argv)
    if name == "roles":  # shared mode's people and grants; imports no Qt
        from app.roles_cli import main as roles_main

        return roles_main(argv)
    if name == "mqtt-broker":  # the demo's broker child, where ``-m`` cannot run (a bundle)
        from app.integrations.iot.mqtt.broker import main as broker_main

        return broker_main(argv)
    from app.integrations.iot.simulator.cli import main as iot_simulator_main

    return iot_simulator_main(argv)


def prepare_qt_environment(*, smoke_test: bool) -> str | None:
    """Set Qt's environment before Qt loads; return a reason the GUI cannot start, if any.

    QtWebEngine's Chromium refuses to run as root with its sandbox on (stack-recipes §1).
    The smoke test needs no screen, so it runs offscreen; a normal start on a Linux box
    without a display would otherwise abort inside Qt with a cryptic plugin error.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")
    if smoke_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if sys.platform.startswith("linux") and no_display and "QT_QPA_PLATFORM" not in os.environ:
        return (
            "no display found (DISPLAY and WAYLAND_DISPLAY are unset). Start it from a "
            "desktop session, or set QT_QPA_PLATFORM=offscreen to run without a screen."
        )
    return None


def run_console(args: argparse.Namespace) -> int:
    from app.config import SettingsError, load_settings
    from app.logging_setup import setup_logging
    from app.paths import DataDirError, resolve_paths

    try:  # review mode writes nothing to the data dir, so a read-only one is fine there
        paths = resolve_paths(args.data_dir).ensure(writable=args.review is None)
    except DataDirError as exc:
        print(f"Fleet Console cannot start: {exc}", file=sys.stderr)
        return 2
    log_file = setup_logging(paths.log_dir)
    try:
        crash_log = (paths.log_dir / "crash.log").open("a", encoding="utf-8")
    except OSError:  # setup_logging said so already; hard crashes then go to stderr
        crash_log = os.fdopen(os.dup(sys.stderr.fileno()), "a", encoding="utf-8")
    faulthandler.enable(crash_log)
    try:
        settings = load_settings(paths.settings_file)
    except SettingsError as exc:
        print(f"Fleet Console cannot start:\n{exc}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.log_level)

    problem = prepare_qt_environment(smoke_test=args.smoke_test)
    if problem:
        print(f"Fleet Console cannot start: {problem}", file=sys.stderr)
        return 2
    import PySide6.QtWebEngineWidgets  # noqa: F401  - must precede QApplication
    import qasync
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.views.map_scheme import register_schemes

    register_schemes()  # the map's app:// and tiles:// schemes, also before QApplication

    from app.models.database import DatabaseError
    from app.services.wiring.bootstrap import open_database
    from app.views import qt_logging
    from app.views.crash_handler import CrashHandler

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)  # a console has widgets: never a bare QCoreApplication
    app.setApplicationName("Fleet Console")
    app.setOrganizationName("Levy Fleets")
    crash_handler = CrashHandler(log_file or Path("stderr"), interactive=not args.smoke_test)
    crash_handler.install()
    qt_logging.install()
    from app.views.gc_policy import GuiGarbageCollection

    gui_gc = GuiGarbageCollection()  # on the GUI thread only; see app/views/gc_policy.py

    review = args.review
    if review is not None and not review.is_file():
        print(f"Fleet Console cannot start: no database file at {review}", file=sys.stderr)
        return 2
    db_url = f"sqlite:///{review.resolve()}" if review else args.db
    from app.views.sign_in import ask_password

    try:
        opened = open_database(
            settings,
            paths,
            db_url=db_url,
            review=review is not None,
            ask_password=None if args.smoke_test else ask_password,
        )
    except DatabaseError as exc:
        logger.error("%s", exc)
        if not args.smoke_test:
            # No event loop exists yet, so this static (modal) box nests none.
            QMessageBox.critical(None, "Fleet Console cannot open its database", str(exc))
        print(f"Fleet Console cannot start: {exc}", file=sys.stderr)
        return 3
    if review is not None:
        _warn_if_damaged(opened, review, interactive=not args.smoke_test)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            code = loop.run_until_complete(
                _run_window(app, opened, gui_gc, smoke_test=args.smoke_test)
            )
    finally:
        gui_gc.stop()
        opened.database.close()
        faulthandler.disable()
        crash_log.close()
    if crash_handler.errors:
        logger.error("%d unhandled error(s) during this run", crash_handler.errors)
        return code or 1
    return code


def _warn_if_damaged(opened: OpenedDatabase, review: Path, *, interactive: bool) -> None:
    """Say which tables of a review file are damaged; what is sound still opens.

    Before the loop runs, so a plain modal box is fine here (no coroutine is waiting).
    """
    damaged = opened.database.damaged_tables()
    if not damaged:
        return
    text = (
        f"{review} is damaged: {', '.join(damaged)} failed the integrity check. What those "
        "tables show may be incomplete or wrong; everything else opens normally."
    )
    logger.warning("%s", text)
    if interactive:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.warning(None, "Fleet Console: damaged review file", text)


async def _run_window(
    app: QApplication, opened: OpenedDatabase, gui_gc: GuiGarbageCollection, *, smoke_test: bool
) -> int:
    from app.services.connections.backends import start_backends
    from app.services.tasks import TaskOwner
    from app.services.wiring.bootstrap import assemble
    from app.services.wiring.context import Mode, Role
    from app.services.wiring.quitting import on_quit_signals, stop_background_work
    from app.services.wiring.workers import start_workers
    from app.views.main_window import MainWindow

    tasks = TaskOwner()
    backends = await start_backends(
        opened.settings,
        demo=opened.mode is Mode.DEMO,
        offline=opened.mode is Mode.REVIEW,
        shared_console=opened.mode is Mode.SHARED,  # no client secret on a workstation
    )
    context = assemble(opened, backends, role=Role.CONSOLE)
    quit_requested = asyncio.Event()
    app.aboutToQuit.connect(quit_requested.set)
    # Closing the window must not stop the loop before background tasks are cancelled
    # (Qt would, and TaskOwner.shutdown could then never finish awaiting them).
    app.setQuitOnLastWindowClosed(False)
    # SIGTERM (system shutdown, systemd) and SIGINT take the same path as File → Quit, so
    # telemetry in the write queue is flushed instead of dropped (issue #14 item 12).
    stop_signals = on_quit_signals(asyncio.get_running_loop(), quit_requested.set)
    window = MainWindow(context)
    window.quit_requested.connect(quit_requested.set)  # Quit, Ctrl+Q, closing the window
    window.worker_status.watch(tasks)
    loaded = asyncio.Event()
    window.fleet_loaded.connect(lambda _count: loaded.set())
    window.fleet_loaded.connect(lambda _count: gui_gc.freeze_startup_heap())
    window.show()
    for problem in context.backends.problems:
        window.statusBar().showMessage(problem)
    window.reload()
    # Token refresher, telemetry writer + cron, IoT gateway: app/services/wiring/workers.py decides
    # per mode (none in review mode; on a shared database the collector runs them).
    start_workers(context, tasks)
    if not context.read_only:
        if context.telemetry_cron is not None:
            cron = context.telemetry_cron
            window.telemetry_views.set_cron_status(cron.status, cron.vehicle_status)
        _wire_live_updates(window, context)
    if context.mode is Mode.SHARED:
        from app.views.shared_feed import start_change_feed

        # Changes the collector and other consoles commit arrive by LISTEN/NOTIFY (issue 8).
        start_change_feed(window, context, tasks)
    code = 0
    try:
        if smoke_test:
            try:
                await asyncio.wait_for(_smoke_checks(window, context, loaded), SMOKE_TEST_TIMEOUT_S)
            except TimeoutError:
                limit = SMOKE_TEST_TIMEOUT_S
                logger.error("smoke test: the console did not come up in %d s", limit)
                code = 1
        else:
            await quit_requested.wait()
        if window.isVisible():
            window.close()  # the smoke test, SIGTERM: save the window state as Quit does
    finally:
        stop_signals()
        await stop_background_work(tasks, context.backends.aclose)
    return code


async def _smoke_checks(window: MainWindow, context: AppContext, loaded: asyncio.Event) -> None:
    """What the smoke test proves: fleet list, map page, and (demo) both simulators running."""
    from app.services.wiring.context import Mode

    await loaded.wait()
    logger.info("smoke test: main window shown with %d vehicles", window.model.rowCount())
    fleet_map = window.telemetry_views.ensure_map()
    map_ready = asyncio.Event()
    fleet_map.ready.connect(map_ready.set)
    if not fleet_map.is_ready:
        await map_ready.wait()
    logger.info("smoke test: map page loaded")
    # The drawing plugin comes from npm (web/node_modules), not with the Python packages:
    # proving it loaded proves the bundle carries it.
    drawing: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def answered(ok: object) -> None:
        if not drawing.done():
            drawing.set_result(ok)

    fleet_map.run_js("fleetZones.canDraw()", answered)
    if await drawing is True:
        logger.info("smoke test: zone drawing plugin loaded")
    else:
        from app.views.map_scheme import drawing_unavailable

        logger.error("smoke test: %s", drawing_unavailable() or "the drawing plugin did not load")
    if context.mode is Mode.DEMO:
        while (iot := context.iot.current) is None:
            await asyncio.sleep(0.1)  # waiting for the IoT gateway to start
        simulator_devices = iot.simulator.device_count if iot.simulator else 0
        while simulator_devices and not iot.gateway.sessions:
            await asyncio.sleep(0.1)  # waiting for the first simulated device to log in
        simulator = context.backends.simulator
        logger.info(
            "smoke test: Smartcar simulator on %s, IoT gateway with %d device(s) online",
            simulator.base_url if simulator else "(none)",
            len(iot.gateway.sessions),
        )


def _wire_live_updates(window: MainWindow, context: AppContext) -> None:
    """New telemetry and polling changes refresh list, panel and map; Refresh now polls."""
    from app.views.live_updates import LiveUpdates

    live = window.live_updates = LiveUpdates(window.fleet, context.vehicles)
    if context.telemetry_writer is not None:
        context.telemetry_writer.commits.subscribe(live.vehicles_changed)
    # Derived vehicle statuses (In use, Offline, ...).
    context.alerts.status_changes.subscribe(live.vehicles_changed)
    cron = context.telemetry_cron
    if cron is not None:
        cron.changes.subscribe(live.vehicle_changed)
        window.connections.panel.refresh_requested.connect(cron.poll_now)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in TOOLS:
        return run_tool(argv[0], argv[1:])
    return run_console(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
