"""The database: engine, sessions, migrations on start, and the one writer thread.

Repositories are the only code that opens sessions, and they do it through ``session()``.
Blocking database work is run with ``await database.run(fn, ...)`` on one dedicated
thread, so the UI loop never waits on SQLite and SQLite never sees two writers from this
process.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.models import roles
from app.models.errors import DatabaseClosed, DatabaseError, PermissionRefused

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Any fixed 64-bit number shared by every workstation: the migration lock on PostgreSQL.
_MIGRATION_LOCK_ID = 0x466C656574_01


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer fsyncs
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_read_only(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("app.models") / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


class Database:
    """One database (SQLite file or PostgreSQL server) and the thread that talks to it."""

    def __init__(self, url: str, *, read_only: bool = False, echo: bool = False) -> None:
        try:  # a --db URL is operator input: a bad one is a message, not a traceback
            self.url = make_url(url)
            self.engine: Engine = create_engine(self.url, echo=echo)
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
            scheme = url.partition("://")[0] if "://" in url else "(none)"
            raise DatabaseError(  # not the URL itself: it may carry a password
                f"cannot use the database URL (scheme {scheme!r}): {type(exc).__name__}; "
                "expected e.g. postgresql+psycopg://user@host/db or sqlite:///path"
            ) from None
        self.read_only = read_only
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            # Review mode must not even switch a copied file to WAL (that is a write).
            pragmas = _sqlite_read_only if read_only else _sqlite_pragmas
            event.listen(self.engine, "connect", pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        self._closed = False
        #: Who :meth:`check_access` found this process signed in as (None: not asked, SQLite).
        self.signed_in: roles.SignedIn | None = None

    @property
    def file(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            return Path(self.url.database)
        return None

    def describe(self) -> str:
        """Where the data lives, with any password hidden (for logs and the status bar)."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error.

        A refusal by the database's roles becomes :class:`PermissionRefused` in plain
        words, so every view that shows an error shows it without SQL or a traceback.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            refusal = roles.refusal_text(exc, self.signed_in)
            if refusal is None:
                raise
            raise PermissionRefused(refusal) from exc

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database work on the database thread and await its result."""
        loop = asyncio.get_running_loop()
        if self._closed:
            raise DatabaseClosed(f"{self.describe()} is closed")
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def check_access(self) -> roles.SignedIn | None:
        """Who this process is signed in as on a server database, or None for SQLite
        (single-user); raises DatabaseError with the fix when it cannot work at all."""
        if self.is_sqlite:
            return None
        self.signed_in = roles.check_access(self.engine, self.describe())
        return self.signed_in

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def migrate(self, backup_dir: Path | None = None, *, as_role: str | None = None) -> Path | None:
        """Bring the schema to the newest revision; back the SQLite file up first.

        Returns the backup file, if one was made. A database that is already current is
        neither backed up nor touched. On PostgreSQL an advisory lock makes two
        workstations starting at once migrate one after the other. ``as_role`` (PostgreSQL):
        create the tables as that role, so a superuser running ``roles init`` leaves them
        owned by the database's owner, who runs the later upgrades.
        """
        head = head_revision()
        try:
            current = self.current_revision()
            if current == head:
                return None
            if self.read_only:
                raise DatabaseError(
                    f"the database is at schema {current or 'empty'}, this version needs "
                    f"{head}; open it with a matching version (review mode never migrates)"
                )
            backup = self._backup(backup_dir, current) if current is not None else None
            config = _alembic_config()
            with self.engine.begin() as connection:
                if not self.is_sqlite:
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                    )
                if as_role is not None:
                    quoted = connection.dialect.identifier_preparer.quote(as_role)
                    connection.execute(text(f"SET LOCAL ROLE {quoted}"))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if as_role is not None:
                    connection.execute(text("RESET ROLE"))  # grants need the superuser back
                if roles.roles_exist(connection):  # new tables and columns get their grants
                    roles.apply_grants(connection)
            logger.info("database migrated from %s to %s", current or "empty", head)
            return backup
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot open or migrate {self.describe()}: {exc}") from exc

    def _backup(self, backup_dir: Path | None, revision: str) -> Path | None:
        source = self.file
        if source is None or backup_dir is None or not source.exists():
            return None
        backup_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = backup_dir / f"{source.stem}-{revision}-{stamp}{source.suffix}"
        # The sqlite3 backup API copies a consistent snapshot even with a WAL file beside it.
        free = shutil.disk_usage(backup_dir).free
        if free < source.stat().st_size * 2:
            raise DatabaseError(
                f"not enough free disk space in {backup_dir} to back up the database "
                "before migrating; free some space and start again"
            )
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        logger.info("database backed up to %s before migrating", target)
        return target

    def damaged_tables(self) -> list[str]:
        """Tables (with their indexes) that fail SQLite's integrity check; [] when sound.

        For review mode: a copied file can carry torn or corrupted pages that only show
        when a query reaches them. Checking table by table names what is damaged, so the
        operator knows which history (telemetry, rentals...) not to trust. Not for server
        databases (they check themselves), where it returns [].
        """
        if not self.is_sqlite:
            return []
        damaged = []
        with self.engine.connect() as connection:
            try:
                tables = (
                    connection.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                    )
                    .scalars()
                    .all()
                )
            except SQLAlchemyError:
                return ["sqlite_master (the schema itself)"]
            for table in tables:
                try:
                    rows = (
                        connection.exec_driver_sql(f'PRAGMA integrity_check("{table}")')
                        .scalars()
                        .all()
                    )
                except SQLAlchemyError:
                    rows = ["error"]
                if rows != ["ok"]:
                    damaged.append(table)
        return damaged

    def close(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=True)
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
