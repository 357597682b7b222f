"""The people of a shared database, as the Administration window lists and changes them.

Reads come from PostgreSQL's catalogue (who is a ``fleet_person``, which group they hold,
whether they may sign in); changes go through the SECURITY DEFINER functions of
:mod:`app.models.roles`, so the database checks that the caller is an administrator and
keeps the rules (the last administrator stays, only Fleet Console people are touched).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.models import roles
from app.models.database import Database
from app.models.errors import DatabaseError


class PeopleError(DatabaseError):
    """The database refused a change to a person, in its own words ("bob already exists")."""


@dataclass(frozen=True, slots=True)
class Person:
    login: str
    role: str | None  # "viewer" ... "admin"; None: revoked
    can_sign_in: bool
    valid_until: datetime | None  # None: no expiry


_PEOPLE = text(
    f"""
    SELECT p.rolname, p.rolcanlogin,
           CASE WHEN p.rolvaliduntil = 'infinity' THEN NULL ELSE p.rolvaliduntil END
    FROM pg_roles p
    WHERE EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE g.rolname = '{roles.PERSON}' AND m.member = p.oid)
      AND NOT p.rolsuper AND p.rolname <> '{roles.ACCOUNTS}'
    ORDER BY p.rolname
    """
)


def list_people(database: Database) -> list[Person]:
    """Every Fleet Console person, revoked ones too (blocking): direct members of
    fleet_person, never a superuser (a member of every role) nor the internal
    fleet_accounts (which administers fleet_person)."""
    with database.session() as session:
        connection = session.connection()
        rows = connection.execute(_PEOPLE).all()
        people = []
        for login, can_sign_in, valid_until in rows:
            role = roles.role_of(connection, login)
            held = role if role in roles.PEOPLE_ROLES else None
            people.append(Person(login, held, bool(can_sign_in), valid_until))
        return people


def add_person(database: Database, login: str, role: str, password: str) -> None:
    """A new person; the password leaves this machine only as a SCRAM verifier."""
    with _refusals(), database.session() as session:
        connection = session.connection()
        verifier = roles.password_verifier(connection, login, password)
        roles.add_person(connection, login, role, verifier)


def set_role(database: Database, login: str, role: str) -> None:
    """Give ``login`` ``role`` (and signing in back, if they were revoked)."""
    with _refusals(), database.session() as session:
        roles.set_role(session.connection(), login, role)


def revoke_person(database: Database, login: str) -> None:
    """Take every role and signing in from ``login``; their next action is refused."""
    with _refusals(), database.session() as session:
        roles.revoke_person(session.connection(), login)


@contextmanager
def _refusals() -> Iterator[None]:
    """The people functions' own refusals (duplicate, unknown person or role) become
    PeopleError in the function's words; privilege refusals are already PermissionRefused
    (``Database.session``)."""
    try:
        yield
    except DBAPIError as exc:
        primary = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        raise PeopleError(primary or str(exc.orig).strip().splitlines()[0]) from exc
