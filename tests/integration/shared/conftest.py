"""Shared-mode tests run against a real PostgreSQL server started for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.models.database import Database
from tests.helpers.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    with running_postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.create_database()


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    """The schema migrated into a fresh database, closed after the test."""
    database = Database(pg_url)
    database.migrate()
    try:
        yield database
    finally:
        database.close()
