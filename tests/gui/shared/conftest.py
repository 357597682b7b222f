"""GUI tests of shared mode run against a real PostgreSQL server started for the session."""

from __future__ import annotations

import pytest

from tests.helpers.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """The session's server with Fleet Console's roles (a shared database needs them)."""
    with running_postgres() as server:
        server.create_roles()
        yield server


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    return postgres.create_database("gui")
