"""People on a test database after ``roles init``: logins per test, raw sessions as them.

Logins are cluster-wide, so every test makes its own, uniquely named, and the ``fleet``
fixture drops them after.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest

from app import roles_cli
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from tests.helpers.people import password_of, sign_up
from tests.helpers.postgres import PostgresServer

NAMES = itertools.count()


@dataclass
class Fleet:
    """A database after ``roles init``, and the people made on it."""

    server: PostgresServer
    url: str
    collector: str
    made: list[str] = field(default_factory=list)

    def person(self, role: str) -> str:
        """A new person with ``role``, signed up by the superuser; returns their login."""
        login = sign_up(self.url, role, prefix="p")
        self.made.append(login)
        return login

    def url_of(self, login: str, password: str | None = None) -> str:
        return self.server.url_as(login, password or password_of(login), self.url)

    def connect(self, login: str) -> psycopg.Connection:
        """A raw libpq session as ``login`` (autocommit: each statement stands alone)."""
        dsn = f"{self.server.dsn(self.url.rpartition('/')[2])} password='{password_of(login)}'"
        return psycopg.connect(dsn.replace("user=postgres", f"user={login}"), autocommit=True)


@pytest.fixture
def fleet(postgres: PostgresServer, pg_url: str) -> Iterator[Fleet]:
    collector = f"c{os.getpid()}_{next(NAMES)}_collector"
    report = roles_cli.run(["init", "--db", pg_url, "--collector", collector], read=lambda _: "x")
    assert f"{collector} created (collector)" in report
    made = Fleet(postgres, pg_url, collector, [collector])
    with Database(pg_url) as db:
        VehicleRepository(db).add_many(
            [VehicleFields(name="Focus", fleet_number="F-1", kind="car", vin="VIN1")]
        )
    with psycopg.connect(postgres.dsn(pg_url.rpartition("/")[2]), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO smartcar_connection (vehicle_id, smartcar_vehicle_id, status, "
            "status_reason, granted_scopes, access_token_enc, refresh_token_enc, last_error, "
            "budget_month, requests_this_month, has_tokens) VALUES (1, 'sc-1', 'connected', "
            "'', '[]', '\\x01', '\\x02', '', '', 0, true)"
        )
    try:
        yield made
    finally:
        with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
            for login in made.made:
                conn.execute(f'DROP ROLE IF EXISTS "{login}"')
