"""People on a throwaway PostgreSQL server: logins with a Fleet Console role, as
``roles add`` makes them, dropped again when the test ends (roles are cluster-wide)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import create_engine

from app.models import roles
from tests.helpers.postgres import PostgresServer

_names = itertools.count()


@contextmanager
def person(server: PostgresServer, db_url: str, role: str) -> Iterator[tuple[str, str]]:
    """A new login with ``role`` on the database of ``db_url`` (migrated, roles created):
    yields (login, the database URL as that login); the login is dropped afterwards."""
    login = f"u{os.getpid()}_{next(_names)}_{role}"
    password = f"secret {login}"
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            roles.install_people_functions(connection)  # what `roles init` adds to a migrated db
            roles.apply_grants(connection)
            verifier = roles.password_verifier(connection, login, password)
            roles.add_person(connection, login, role, verifier)
    finally:
        engine.dispose()
    try:
        yield login, server.url_as(login, password, db_url)
    finally:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{login}" CASCADE')  # in case the test made objects
            conn.execute(f'DROP ROLE IF EXISTS "{login}"')
