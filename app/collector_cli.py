"""``python main.py collect --db URL``: the headless collector of shared mode (no Qt).

Logs to ``<data dir>/logs/collector.log`` and stdout; SIGTERM or Ctrl+C stops it cleanly
(workers cancelled, pending telemetry flushed, leader lock released, exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from app.config import SettingsError, load_settings
from app.logging_setup import setup_logging
from app.models.database import DatabaseError
from app.paths import DataDirError, resolve_paths
from app.services.change_feed import is_postgres
from app.services.connections.backends import start_backends
from app.services.wiring.bootstrap import OpenedDatabase, assemble, open_database
from app.services.wiring.collector import Collector
from app.services.wiring.context import Mode, Role, database_url
from app.services.wiring.quitting import CLOSE_BACKENDS_S, close_within, on_quit_signals

logger = logging.getLogger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py collect",
        description="Run the pollers, token refresher and IoT gateway for a shared "
        "PostgreSQL database, without a window. Several may run: one leads, the others "
        "stand by and take over when it stops.",
    )
    parser.add_argument("--db", metavar="URL", help="postgresql+psycopg://user@host/db")
    parser.add_argument("--data-dir", type=Path, help="settings, logs and the token key")
    parser.add_argument("--poll", type=float, default=1.0, help="standby check interval (s)")
    return parser.parse_args(argv)


def _log_to_stdout() -> None:
    """setup_logging writes to stderr; a service manager's journal reads stdout too, but
    one stream is enough, so the console handler is pointed at stdout."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:
            handler.setStream(sys.stdout)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        paths = resolve_paths(args.data_dir).ensure()
    except DataDirError as exc:
        print(f"collector cannot start: {exc}", file=sys.stderr)
        return 2
    setup_logging(paths.log_dir, file_name="collector.log")
    _log_to_stdout()
    try:
        settings = load_settings(paths.settings_file)
    except SettingsError as exc:
        print(f"collector cannot start:\n{exc}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    url = database_url(settings, paths, args.db)
    if not is_postgres(url):
        print(
            "collector cannot start: it needs a PostgreSQL database (--db "
            "postgresql+psycopg://... or database_url in the settings)",
            file=sys.stderr,
        )
        return 2
    try:
        opened = open_database(settings, paths, db_url=url)
    except DatabaseError as exc:
        print(f"collector cannot start: {exc}", file=sys.stderr)
        return 3
    signed_in = opened.signed_in
    if signed_in is not None and signed_in.role not in ("collector", "owner"):
        opened.database.close()
        print(
            f"collector cannot start: {signed_in.login} is a {signed_in.role}'s login, not "
            "the collector's (a superuser creates that with "
            "`python main.py roles init --db URL --collector NAME`)",
            file=sys.stderr,
        )
        return 3
    try:
        asyncio.run(_serve(opened, args.poll))
    finally:
        opened.database.close()
    return 0


async def _serve(opened: OpenedDatabase, poll_s: float) -> None:
    stop = asyncio.Event()
    # SIGTERM (the service manager) and SIGINT: the console's bounded, flushing stop.
    undo_signals = on_quit_signals(asyncio.get_running_loop(), stop.set)
    backends = await start_backends(opened.settings, demo=opened.mode is Mode.DEMO, offline=False)
    for problem in backends.problems:
        logger.warning("collector: %s", problem)
    try:
        context = assemble(opened, backends, role=Role.COLLECTOR)
        await Collector(context, poll_s=poll_s).run(stop)
    finally:
        undo_signals()
        await close_within(backends.aclose, CLOSE_BACKENDS_S)
