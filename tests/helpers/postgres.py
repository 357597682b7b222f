"""A throwaway PostgreSQL 15 server for tests (stack-recipes.md section 7), no skipping.

initdb + pg_ctl on a free port in a temporary directory (people's logins need a password,
everyone else is trusted); as root both run through
``runuser -u postgres`` because initdb refuses to run as root. Each test gets its own
database from :meth:`PostgresServer.create_database`, so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from app.models.roles import create_roles

PG_BIN = Path(os.environ.get("FLEET_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@dataclass
class PostgresServer:
    directory: Path
    port: int
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def url_as(self, login: str, password: str, database: str) -> str:
        """The URL of ``database`` (a name, or a URL from :meth:`create_database`) as
        ``login``; people's logins sign in with a password (see :func:`running_postgres`)."""
        name = database.rpartition("/")[2]
        return f"postgresql+psycopg://{login}:{password}@127.0.0.1:{self.port}/{name}"

    def dsn(self, database: str = "postgres") -> str:
        """The plain libpq DSN (for psycopg directly)."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def create_roles(self) -> None:
        """Fleet Console's group roles, as ``roles init`` makes them: cluster-wide, so once
        per server, and every database migrated on it afterwards gets the grants."""
        engine = create_engine(self.url())
        try:
            with engine.begin() as connection:
                create_roles(connection)
        finally:
            engine.dispose()

    def create_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its SQLAlchemy URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a cluster, yield it, then stop it (immediate) and remove its directory."""
    directory = Path(tempfile.mkdtemp(prefix="pgtest."))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    data = directory / "data"
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [
                *(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"),
                *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
            ]
        ),
        check=True,
        capture_output=True,
    )
    # Members of fleet_person (people's logins, app/models/roles.py) sign in with a
    # password over TCP, as in production, so a wrong one is refused; everyone else
    # (the tests' superuser, collector logins) is trusted.
    (data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "host all +fleet_person 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 trust\n"
    )
    options = (
        f"-k {directory} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = str(PG_BIN / "pg_ctl")
    subprocess.run(
        _as_postgres(
            [
                *(pg_ctl, "-D", str(data), "-l", str(directory / "server.log")),
                *("-w", "-t", "30", "-o", options, "start"),
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield PostgresServer(directory, port)
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)
