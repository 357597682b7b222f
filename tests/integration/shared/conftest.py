"""Shared-mode tests run against a real PostgreSQL server started for the session."""

from __future__ import annotations

import pytest

from tests.helpers.postgres import PostgresServer, running_postgres
from tests.integration.shared.people import fleet


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """The session's server, its Fleet Console roles created (they are cluster-wide, as
    ``roles init`` makes them; every database migrated on it then gets the grants)."""
    with running_postgres() as server:
        server.create_roles()
        yield server


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres.create_database()


@pytest.fixture
def db_url(pg_url: str) -> str:
    """``db`` (tests/conftest.py) is the schema migrated into that fresh database."""
    return pg_url


__all__ = ["fleet"]  # the fixture, for every shared test
