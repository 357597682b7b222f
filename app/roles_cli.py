"""``python main.py roles ...``: people and their roles on a shared PostgreSQL database.

    roles init --db URL [--admin NAME] [--collector NAME]   (as a superuser)
    roles add NAME --role R --db URL                         (as an administrator)
    roles set-role NAME --role R --db URL
    roles revoke NAME --db URL

``init`` is idempotent: it migrates the schema, creates the missing roles, installs the
people functions and (again) every row trigger (``roles.ROW_TRIGGERS``: who wrote a
command, a connect request or a field task), applies every grant (the notification
guard with its grant), and creates the first administrator and the collector's login if
they do not exist yet. Passwords are read
with getpass (never echoed, never printed) and sent as a SCRAM verifier computed here.
The others call the SECURITY DEFINER functions of app/models/roles.py, so an
administrator's own login, without CREATEROLE, is enough.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from app.models import roles
from app.models.database import Database
from app.models.errors import DatabaseError

PasswordReader = Callable[[str], str]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py roles",
        description="Database roles of shared mode: who may see, command, edit and manage.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="create the roles and grants (as a superuser)")
    init.add_argument("--admin", metavar="NAME", help="create this first administrator")
    init.add_argument("--collector", metavar="NAME", help="create the collector's login")
    add = sub.add_parser("add", help="add a person (as an administrator)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=list(roles.PEOPLE_ROLES))
    add.add_argument(
        "--no-password", action="store_true", help="sign in by certificate or another method"
    )
    change = sub.add_parser("set-role", help="change a person's role (as an administrator)")
    change.add_argument("name")
    change.add_argument("--role", required=True, choices=list(roles.PEOPLE_ROLES))
    revoke = sub.add_parser("revoke", help="stop a person at once (as an administrator)")
    revoke.add_argument("name")
    for command in (init, add, change, revoke):
        command.add_argument("--db", metavar="URL", required=True, help="postgresql+psycopg://...")
    return parser.parse_args(argv)


def _new_password(name: str, read: PasswordReader) -> str:
    first = read(f"Password for {name}: ")
    if not first:
        raise DatabaseError(f"no password given for {name}; nothing was changed")
    if read(f"Password for {name} again: ") != first:
        raise DatabaseError(f"the two passwords for {name} differ; nothing was changed")
    return first


def _exists(connection: Connection, name: str) -> bool:
    return bool(
        connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :n)"), {"n": name}
        ).scalar()
    )


def init(database: Database, admin: str | None, collector: str | None, read: PasswordReader) -> str:
    """Everything ``roles init`` does; returns what to tell the operator."""
    with database.engine.connect() as connection:
        owner = connection.execute(
            text(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
            )
        ).scalar_one()
    database.migrate(as_role=owner)  # the owner's tables, whoever runs init
    lines = []
    with database.engine.begin() as connection:
        created = roles.create_roles(connection)
        roles.install_row_triggers(connection)
        roles.install_people_functions(connection)
        roles.apply_grants(connection)
        lines.append(f"roles created: {', '.join(created)}" if created else "roles: all present")
        lines.append("grants, people functions and the row triggers applied")
        for name, make in ((admin, "admin"), (collector, "collector")):
            if name is None:
                continue
            if _exists(connection, name):
                lines.append(f"{name} already exists; left as it is")
                continue
            verifier = roles.password_verifier(connection, name, _new_password(name, read))
            if make == "admin":
                roles.add_person(connection, name, "admin", verifier)
            else:
                roles.add_collector(connection, name, verifier)
            lines.append(f"{name} created ({make})")
    return "\n".join(lines)


def _people(database: Database, args: argparse.Namespace, read: PasswordReader) -> str:
    with database.engine.begin() as connection:
        if args.action == "add":
            verifier = None
            if not args.no_password:
                password = _new_password(args.name, read)
                verifier = roles.password_verifier(connection, args.name, password)
            roles.add_person(connection, args.name, args.role, verifier)
            return f"{args.name} added as {args.role}"
        if args.action == "set-role":
            roles.set_role(connection, args.name, args.role)
            return f"{args.name} is now {args.role}"
        roles.revoke_person(connection, args.name)
        return f"{args.name} revoked: no role and no sign-in from now on"


def run(argv: list[str], read: PasswordReader = getpass.getpass) -> str:
    """Run one roles command; returns the report, raises DatabaseError with a message."""
    args = parse_args(argv)
    with Database(args.db) as database:
        if database.is_sqlite:
            raise DatabaseError("roles are for a shared PostgreSQL database; SQLite is single-user")
        login = None  # init runs before any role exists: a superuser needs no check
        if args.action != "init":
            login = roles.check_access(database.engine, database.describe()).login
        try:
            if args.action == "init":
                return init(database, args.admin, args.collector, read)
            return _people(database, args, read)
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "permission denied" in detail or "must be superuser" in detail:
                who = login or "this login"
                need = "a superuser" if args.action == "init" else "the administrator role"
                raise DatabaseError(f"{who} may not do that ({detail}); it needs {need}") from None
            raise DatabaseError(detail) from None


def main(argv: list[str]) -> int:
    try:
        print(run(argv))
    except DatabaseError as exc:
        print(f"roles: {exc}", file=sys.stderr)
        return 3
    return 0
