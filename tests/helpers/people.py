"""People on a throwaway PostgreSQL server: logins with a Fleet Console role, as
``roles add`` makes them. Logins are cluster-wide, so each is uniquely named and dropped
when its test ends."""

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


def password_of(login: str) -> str:
    """The password every test login is made with."""
    return f"secret {login}"


def sign_up(db_url: str, role: str, *, prefix: str = "u") -> str:
    """A new login with ``role``, made by the superuser through the people functions of
    the database of ``db_url`` (which must have them: ``roles init``); returns the login."""
    login = f"{prefix}{os.getpid()}_{next(_names)}_{role}"
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            verifier = roles.password_verifier(connection, login, password_of(login))
            roles.add_person(connection, login, role, verifier)
    finally:
        engine.dispose()
    return login


@contextmanager
def person(server: PostgresServer, db_url: str, role: str) -> Iterator[tuple[str, str]]:
    """A new login with ``role`` on the database of ``db_url`` (migrated, roles created):
    yields (login, the database URL as that login); the login is dropped afterwards."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            roles.install_people_functions(connection)  # what `roles init` adds to a migrated db
            roles.apply_grants(connection)
    finally:
        engine.dispose()
    login = sign_up(db_url, role)
    try:
        yield login, server.url_as(login, password_of(login), db_url)
    finally:
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{login}" CASCADE')  # in case the test made objects
            conn.execute(f'DROP ROLE IF EXISTS "{login}"')
