"""A shared-mode console with no password in ~/.pgpass asks for it (issue #18 item 1),
tries again after a wrong one, and never writes it anywhere."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

from app.config import Settings
from app.models.database import Database
from app.models.errors import SignInRefused
from app.paths import resolve_paths
from app.services.wiring.bootstrap import SIGN_IN_ATTEMPTS, open_database
from tests.helpers.people import person


@pytest.fixture
def migrated(pg_url: str) -> str:
    with Database(pg_url) as db:
        db.migrate()
    return pg_url


def test_a_missing_then_wrong_password_is_asked_for_until_it_is_right(
    postgres, migrated, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    with person(postgres, migrated, "dispatcher") as (login, url):
        right = make_url(url).password
        bare = make_url(url)._replace(password=None).render_as_string(hide_password=False)
        asked: list[tuple[str, str]] = []
        answers = iter(["not it", right])

        def ask(who: str, problem: str) -> str | None:
            asked.append((who, problem))
            return next(answers)

        paths = resolve_paths(tmp_path / "console").ensure()
        opened = open_database(Settings(), paths, db_url=bare, ask_password=ask)
        try:
            assert opened.signed_in is not None and opened.signed_in.login == login
            assert [who for who, _ in asked] == [login, login]
            assert "needs a password" in asked[0][1]
            assert "refused the password" in asked[1][1]
            assert right not in opened.database.describe()
        finally:
            opened.database.close()
        assert right not in caplog.text and "not it" not in caplog.text
        assert not any(right in p.read_text() for p in paths.data_dir.rglob("*") if p.is_file())


def test_cancelling_or_running_out_of_tries_stops_with_the_message(postgres, migrated, tmp_path):
    with person(postgres, migrated, "viewer") as (_login, url):
        bare = make_url(url)._replace(password=None).render_as_string(hide_password=False)
        paths = resolve_paths(tmp_path / "console").ensure()
        with pytest.raises(SignInRefused, match="needs a password"):
            open_database(Settings(), paths, db_url=bare, ask_password=lambda *_: None)
        tries: list[str] = []
        with pytest.raises(SignInRefused, match="refused the password"):
            open_database(
                Settings(),
                paths,
                db_url=bare,
                ask_password=lambda _who, problem: tries.append(problem) or "wrong",
            )
        assert len(tries) == SIGN_IN_ATTEMPTS - 1
