"""``roles init`` run by the superuser leaves the schema owned by the database's owner,
who then runs the later upgrades and can read every table (found using the README's steps:
the tables belonged to postgres and the owner ``fleet`` could not even count vehicles)."""

from __future__ import annotations

import os

import psycopg

from app import roles_cli
from app.models.database import Database
from app.models.vehicles import VehicleRepository


def test_the_tables_belong_to_the_database_owner_after_roles_init(postgres):
    owner, name = f"owner_{os.getpid()}", f"owned_{os.getpid()}"
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    try:
        roles_cli.run(["init", "--db", postgres.url(name)], read=lambda _: "x")
        with psycopg.connect(postgres.dsn(name)) as conn:
            owners = conn.execute(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        assert owners == [(owner,)]
        as_owner = postgres.url(name).replace("postgres@", f"{owner}@", 1)
        with Database(as_owner) as db:
            assert VehicleRepository(db).count() == 0
    finally:
        with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')
