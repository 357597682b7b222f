"""The change feed's own connections (LISTEN, NOTIFY, the leader lock) sign in as the
console's database URL says, whatever characters the person's password holds."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import URL

from app.services.change_feed import libpq_dsn


def test_a_password_with_a_space_and_a_quote_reaches_libpq_intact():
    url = URL.create(
        "postgresql+psycopg",
        username="bob",
        password="secret bob's",
        host="db.example",
        port=5433,
        database="fleet",
        query={"sslmode": "require"},
    )
    assert conninfo_to_dict(libpq_dsn(url)) == {
        "host": "db.example",
        "port": "5433",
        "dbname": "fleet",
        "user": "bob",
        "password": "secret bob's",
        "sslmode": "require",
    }
    # As the settings file and --db give it: percent-encoded.
    text = "postgresql+psycopg://bob:secret%20bob@127.0.0.1/fleet"
    assert conninfo_to_dict(libpq_dsn(text))["password"] == "secret bob"
