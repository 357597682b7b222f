"""Who may do what on a shared PostgreSQL database: group roles, grants and row rules.

A desktop client cannot enforce rules: whoever holds a workstation's credentials can talk
to the database directly. So every rule lives in PostgreSQL (issue #18). Each person signs
in with their own login, a member of one group role (NOLOGIN), each group holding the one
before it:

* ``fleet_viewer`` reads everything except the Smartcar tokens;
* ``fleet_dispatcher`` also queues commands for the collector, runs rentals and
  acknowledges alerts;
* ``fleet_manager`` also edits vehicles and devices;
* ``fleet_admin`` also adds people, changes their role and revokes them, through the
  SECURITY DEFINER functions below, without CREATEROLE of its own.

``fleet_collector`` is apart: the collector's login, the only one that reads tokens and
executes the command queue. Two internal roles serve the people functions:
``fleet_accounts`` owns them and holds CREATEROLE (nobody can sign in as it or be granted
it), and ``fleet_person`` marks the logins those functions made, so an administrator can
change only Fleet Console people, never another application's login, a superuser or the
collector.

Roles are cluster-wide and need CREATEROLE, so :func:`create_roles` runs from the explicit
``python main.py roles init`` command, not from migrations. Grants are per database and
idempotent (:func:`apply_grants`): ``roles init`` applies them and so does every migration
run on a database whose roles exist (:meth:`app.models.database.Database.migrate`).

The row triggers (:data:`ROW_TRIGGERS`) write the requesting login (``session_user``)
into every new ``command``, ``connect_request`` and ``field_task`` row, whatever the client
sent, and keep consoles to their side of the queues; the collector checks that login's
right before it executes (:func:`command_refusal`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.models.errors import DatabaseError, SignInRefused
from app.models.orm import Base, ConnectRequest, SmartcarConnection

VIEWER = "fleet_viewer"
DISPATCHER = "fleet_dispatcher"
MANAGER = "fleet_manager"
ADMIN = "fleet_admin"
COLLECTOR = "fleet_collector"
ACCOUNTS = "fleet_accounts"
PERSON = "fleet_person"

#: The people's roles, least first; each is granted the one before it.
PEOPLE_ROLES: dict[str, str] = {
    "viewer": VIEWER,
    "dispatcher": DISPATCHER,
    "manager": MANAGER,
    "admin": ADMIN,
}

INIT_COMMAND = "python main.py roles init --db URL"

#: Columns no person's role may read: only the collector decrypts and uses them (a v2.0
#: authorization code is worthless without the client secret, but it is a grant in flight).
SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    SmartcarConnection.__tablename__: ("access_token_enc", "refresh_token_enc"),
    ConnectRequest.__tablename__: ("code",),
}


@dataclass(frozen=True, slots=True)
class Allowed:
    """What one group role adds to the role before it, for the UI and the README."""

    role: str
    title: str
    may: tuple[str, ...]


#: What each role may do, as data: the UI disables what a role lacks, the README tables it.
ALLOWED: tuple[Allowed, ...] = (
    Allowed(
        "viewer",
        "Viewer",
        ("see the fleet, telemetry, rentals, alerts, connections and the audit trail",),
    ),
    Allowed(
        "dispatcher",
        "Dispatcher",
        ("send lock and unlock (through the collector)", "run rentals", "acknowledge alerts"),
    ),
    Allowed(
        "manager",
        "Fleet manager",
        ("add, edit and archive vehicles", "add and edit IoT devices, claim unknown devices"),
    ),
    Allowed(
        "admin",
        "Administrator",
        ("add people, change their role, revoke them",),
    ),
    Allowed(
        "collector",
        "Collector",
        (
            "read and write the Smartcar tokens",
            "poll vehicles, store telemetry, run the IoT gateway",
            "execute queued commands after checking the requester's role",
        ),
    ),
)

#: Per role, beyond what the role before it holds: (privileges, table). A privilege with
#: columns, e.g. ``UPDATE (state)``, grants those columns only. SELECT for the viewer is
#: handled apart (every table, secret columns left out).
_TABLE_GRANTS: dict[str, tuple[tuple[str, str], ...]] = {
    # Each console records the desktop messages it shows (its own rows only: the
    # notification trigger below); the attempt columns are all it updates.
    VIEWER: (
        (
            "INSERT, UPDATE (state, attempts, last_error, updated_at, sent_at, next_attempt_at)",
            "notification",
        ),
    ),
    DISPATCHER: (
        ("INSERT, UPDATE (state, error, updated_at)", "command"),
        ("INSERT, UPDATE (state, error, updated_at)", "connect_request"),
        ("INSERT, UPDATE", "rental"),
        ("UPDATE (acknowledged_by, acknowledged_at)", "alert"),
        ("INSERT, UPDATE", "field_task"),
    ),
    MANAGER: (
        ("INSERT, UPDATE, DELETE", "vehicle"),
        ("INSERT, UPDATE, DELETE", "iot_device"),
        ("INSERT, UPDATE, DELETE", "unknown_device"),
        ("INSERT, UPDATE, DELETE", "zone"),
        ("INSERT, UPDATE, DELETE", "maintenance_plan"),
    ),
}

_GROUP_ROLES = (*PEOPLE_ROLES.values(), COLLECTOR)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a process is connected as: the login and its highest Fleet Console role
    ("viewer" ... "admin", "collector", or "owner" for a superuser or the schema owner)."""

    login: str
    role: str


def _roles_exist(connection: Connection) -> bool:
    return bool(
        connection.execute(
            text("SELECT count(*) = :n FROM pg_roles WHERE rolname = ANY(:names)"),
            {"n": len(_GROUP_ROLES) + 2, "names": [*_GROUP_ROLES, ACCOUNTS, PERSON]},
        ).scalar()
    )


def roles_exist(connection: Connection) -> bool:
    """Whether ``roles init`` created the roles on this cluster (False on SQLite)."""
    return connection.dialect.name == "postgresql" and _roles_exist(connection)


def create_roles(connection: Connection) -> list[str]:
    """Create the missing group roles and their memberships (needs CREATEROLE); returns
    the roles created. Idempotent."""
    existing = set(
        connection.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname LIKE 'fleet\\_%'")
        ).scalars()
    )
    created = []
    for role in (*_GROUP_ROLES, PERSON):
        if role not in existing:
            connection.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN")
            created.append(role)
    if ACCOUNTS not in existing:
        connection.exec_driver_sql(f"CREATE ROLE {ACCOUNTS} NOLOGIN CREATEROLE")
        created.append(ACCOUNTS)
    chain = list(PEOPLE_ROLES.values())
    for lower, higher in itertools.pairwise(chain):
        if not _member(connection, higher, lower):
            connection.exec_driver_sql(f"GRANT {lower} TO {higher}")
    # The people functions run as fleet_accounts: it must be able to hand these out.
    for role in (*chain, PERSON):
        connection.exec_driver_sql(f"GRANT {role} TO {ACCOUNTS} WITH ADMIN OPTION")
    return created


def _member(connection: Connection, member: str, group: str) -> bool:
    """Whether ``member`` is a direct member of ``group`` (pg_auth_members)."""
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_auth_members m "
                "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles p ON p.oid = m.member "
                "WHERE g.rolname = :group AND p.rolname = :member)"
            ),
            {"group": group, "member": member},
        ).scalar()
    )


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def apply_grants(connection: Connection) -> None:
    """Every grant of every role on this database's tables, from scratch (idempotent).

    Each role's privileges are revoked and granted again in the caller's transaction, so
    a privilege dropped from this list disappears on the next run and nobody ever sees a
    half-granted state. Needs the roles (:func:`create_roles`) and the schema at head.
    The ``notification`` trigger comes with its grant, here, so one is never without the
    other (whether ``roles init`` or a migration applies them).
    """
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    tables = [t.name for t in Base.metadata.sorted_tables] + ["alembic_version"]
    q_schema = _quoted(connection, schema)
    for role in _GROUP_ROLES:
        connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {q_schema} TO {role}")
        for table in tables:
            connection.exec_driver_sql(f"REVOKE ALL ON TABLE {table} FROM {role}")
    sequences = {
        table: seq
        for table in tables
        if table in Base.metadata.tables
        and "id" in Base.metadata.tables[table].c
        and (seq := _serial_sequence(connection, f"{q_schema}.{table}")) is not None
    }
    for seq in sequences.values():
        connection.exec_driver_sql(f"REVOKE ALL ON SEQUENCE {seq} FROM {', '.join(_GROUP_ROLES)}")
    for table in tables:
        secret = SECRET_COLUMNS.get(table)
        if secret is None:
            connection.exec_driver_sql(f"GRANT SELECT ON TABLE {table} TO {VIEWER}")
        else:
            readable = [c.name for c in Base.metadata.tables[table].columns if c.name not in secret]
            connection.exec_driver_sql(
                f"GRANT SELECT ({', '.join(readable)}) ON TABLE {table} TO {VIEWER}"
            )
        connection.exec_driver_sql(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO {COLLECTOR}"
        )
        if table in sequences:
            connection.exec_driver_sql(f"GRANT USAGE ON SEQUENCE {sequences[table]} TO {COLLECTOR}")
    for role, grants in _TABLE_GRANTS.items():
        for privileges, table in grants:
            connection.exec_driver_sql(f"GRANT {privileges} ON TABLE {table} TO {role}")
            if "INSERT" in privileges and table in sequences:
                connection.exec_driver_sql(f"GRANT USAGE ON SEQUENCE {sequences[table]} TO {role}")
    install_trigger(connection, NOTIFICATION_GUARD)


def _serial_sequence(connection: Connection, table: str) -> str | None:
    return connection.execute(
        text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
    ).scalar()


# -- row triggers: who wrote a row, and what a console may do to the queues --------------


@dataclass(frozen=True, slots=True)
class RowTrigger:
    """A BEFORE ... FOR EACH ROW trigger on ``table`` running the plpgsql ``body`` (which
    ends ``RETURN NEW;``), as the function ``name`` under a pinned search_path."""

    name: str
    table: str
    events: str
    body: str
    declare: str = ""

    def sql(self) -> str:
        """Create or replace the function and (re)create the trigger: idempotent."""
        declare = f"DECLARE\n    {self.declare}\n" if self.declare else ""
        return f"""
CREATE OR REPLACE FUNCTION {self.name}() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
{declare}BEGIN
{self.body}
END
$$;
DROP TRIGGER IF EXISTS {self.name} ON {self.table};
CREATE TRIGGER {self.name} BEFORE {self.events} ON {self.table}
    FOR EACH ROW EXECUTE FUNCTION {self.name}();
"""


def install_trigger(connection: Connection, trigger: RowTrigger) -> None:
    """Create or replace one row trigger (PostgreSQL only; idempotent). Its migration
    installs it once; ``roles init`` installs them all again (:func:`install_row_triggers`)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(trigger.sql()))  # text(): it escapes the % for psycopg


def remove_trigger(connection: Connection, trigger: RowTrigger) -> None:
    """Drop one row trigger and its function (PostgreSQL only): its migration's downgrade."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}"))
        connection.execute(text(f"DROP FUNCTION IF EXISTS {trigger.name}()"))


#: A login that is not the collector's, once the roles exist: the queues' other side.
_CONSOLE = (
    f"console boolean := to_regrole('{COLLECTOR}') IS NOT NULL\n"
    f"        AND NOT pg_has_role(session_user, '{COLLECTOR}', 'MEMBER');"
)

#: On ``command``. The requester is always the session's login (a client cannot name
#: someone else) and never changes afterwards. A console may only queue relay requests
#: (state forced to queued) and only time out its own pending ones: the execution side is
#: the collector's.
COMMAND_GUARD = RowTrigger(
    "fleet_command_guard",
    "command",
    "INSERT OR UPDATE",
    declare=_CONSOLE,
    body="""    IF TG_OP = 'INSERT' THEN
        NEW.requester := session_user;
        IF console THEN
            IF NEW.channel IS DISTINCT FROM 'relay' THEN
                RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                    MESSAGE = format('%s may only queue commands for the collector', session_user);
            END IF;
            NEW.state := 'queued';
            NEW.error := '';
            NEW.created_at := now() AT TIME ZONE 'UTC';
        END IF;
    ELSE
        NEW.requester := OLD.requester;
        IF console AND (OLD.requester IS DISTINCT FROM session_user
                OR OLD.channel IS DISTINCT FROM 'relay'
                OR OLD.state NOT IN ('queued', 'sent')
                OR NEW.state IS DISTINCT FROM 'timed_out') THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = format('%s may only time out their own pending requests', session_user);
        END IF;
    END IF;
    RETURN NEW;""",
)

#: On ``connect_request``, like the command guard: the requester is the session's login;
#: a person's new request is always queued (whatever state, error or result the client
#: sent) and afterwards a person may only time out their own queued one. Linking, failing
#: and the result are the collector's.
CONNECT_REQUEST_GUARD = RowTrigger(
    "fleet_connect_request_guard",
    "connect_request",
    "INSERT OR UPDATE",
    declare=_CONSOLE,
    body="""    IF TG_OP = 'INSERT' THEN
        NEW.requester := session_user;
        IF console THEN
            NEW.state := 'queued';
            NEW.error := '';
            IF NEW.action IS DISTINCT FROM 'disconnect' THEN
                NEW.connection_id := NULL;
            END IF;
            NEW.created_at := now() AT TIME ZONE 'UTC';
            NEW.updated_at := NEW.created_at;
        END IF;
    ELSE
        NEW.requester := OLD.requester;
        IF console AND (OLD.requester IS DISTINCT FROM session_user
                OR OLD.state IS DISTINCT FROM 'queued'
                OR NEW.state IS DISTINCT FROM 'timed_out') THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = format('%s may only time out their own queued requests', session_user);
        END IF;
    END IF;
    RETURN NEW;""",
)

#: On ``field_task``: the creator is the session's login, whatever the client sent (a
#: dispatcher cannot file a task in someone else's name).
TASK_CREATOR = RowTrigger(
    "fleet_task_creator",
    "field_task",
    "INSERT",
    body="""    NEW.created_by := session_user;
    RETURN NEW;""",
)

#: On ``alert``: a person who acknowledges is recorded as the session's login, whatever
#: the client sent (the alert inbox cannot be acknowledged in someone else's name).
ALERT_ACKNOWLEDGER = RowTrigger(
    "fleet_alert_acknowledger",
    "alert",
    "UPDATE",
    declare=_CONSOLE,
    body="""    IF console AND NEW.acknowledged_at IS DISTINCT FROM OLD.acknowledged_at THEN
        NEW.acknowledged_by := session_user;
    END IF;
    RETURN NEW;""",
)

#: On ``rental``: the operator who opens a rental is the session's login, and stays it.
RENTAL_OPERATOR = RowTrigger(
    "fleet_rental_operator",
    "rental",
    "INSERT OR UPDATE",
    declare=_CONSOLE,
    body="""    IF TG_OP = 'UPDATE' THEN
        NEW.operator := OLD.operator;
    ELSIF console THEN
        NEW.operator := session_user;
    END IF;
    RETURN NEW;""",
)

#: The row triggers ``roles init`` (re)installs; the notification guard is not among them
#: because :func:`apply_grants` installs it with its grant (which ``roles init`` applies).
ROW_TRIGGERS = (
    COMMAND_GUARD,
    CONNECT_REQUEST_GUARD,
    TASK_CREATOR,
    ALERT_ACKNOWLEDGER,
    RENTAL_OPERATOR,
)


def install_row_triggers(connection: Connection) -> None:
    """(Re)install every row trigger: ``roles init`` after an upgrade changed one, or on a
    database restored without them."""
    for trigger in ROW_TRIGGERS:
        install_trigger(connection, trigger)


#: BEFORE INSERT OR UPDATE on ``notification``. The collector sends every e-mail row, so a
#: person's login (any role: each console records its desktop messages) may write desktop
#: rows only, addressed to itself ("login@host", app.services.notifications.channels):
#: otherwise a viewer could have the collector mail anything to anyone. The collector and
#: the table's owner (a superuser too) are not held to it. Installed with the grants.
NOTIFICATION_GUARD = RowTrigger(
    "fleet_notification_guard",
    "notification",
    "INSERT OR UPDATE",
    body=f"""    IF to_regrole('{COLLECTOR}') IS NOT NULL
            AND NOT pg_has_role(session_user, '{COLLECTOR}', 'MEMBER')
            AND NOT pg_has_role(session_user,
                (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')
            AND (NEW.channel IS DISTINCT FROM 'desktop'
                OR left(NEW.recipient, length(session_user) + 1)
                    IS DISTINCT FROM session_user || '@') THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = format('%s may only record their own desktop notifications', session_user);
    END IF;
    RETURN NEW;""",
)


# -- people: the administrator's functions ---------------------------------------------------

_GROUP_OF = (
    "CASE role WHEN 'viewer' THEN 'fleet_viewer' WHEN 'dispatcher' THEN 'fleet_dispatcher' "
    "WHEN 'manager' THEN 'fleet_manager' WHEN 'admin' THEN 'fleet_admin' END"
)
_CHECK_GROUP = """
    IF grp IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('unknown role %L: one of viewer, dispatcher, manager, admin', role);
    END IF;"""
_CHECK_PERSON = f"""
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
            JOIN pg_roles p ON p.oid = m.member
            WHERE g.rolname = '{PERSON}' AND p.rolname = person) THEN
        RAISE EXCEPTION USING ERRCODE = 'undefined_object',
            MESSAGE = format('%s is not a Fleet Console person', person);
    END IF;"""
_REVOKE_GROUPS = """
    FOR grp_held IN SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
            JOIN pg_roles p ON p.oid = m.member
            WHERE p.rolname = person AND g.rolname IN
                ('fleet_viewer', 'fleet_dispatcher', 'fleet_manager', 'fleet_admin') LOOP
        EXECUTE format('REVOKE %I FROM %I', grp_held, person);
    END LOOP;"""
#: Nobody could manage people any more (short of a superuser) without one administrator.
_KEEP_AN_ADMIN = f"""
    IF pg_has_role(person, '{ADMIN}', 'MEMBER') AND NOT EXISTS (
            SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
            JOIN pg_roles p ON p.oid = m.member
            WHERE g.rolname = '{ADMIN}' AND p.rolname <> person AND p.rolcanlogin) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = format('%s is the last administrator; make someone else one first', person);
    END IF;"""
_DEFINER = "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp"

PEOPLE_FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION fleet_add_person(person text, role text, password text DEFAULT NULL)
RETURNS void {_DEFINER} AS $$
DECLARE grp text := {_GROUP_OF};
BEGIN
{_CHECK_GROUP}
    IF to_regrole(quote_ident(person)) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
            MESSAGE = format('%s already exists; change their role with set-role', person);
    END IF;
    EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', person, password);
    EXECUTE format('GRANT {PERSON}, %I TO %I', grp, person);
END
$$;
CREATE OR REPLACE FUNCTION fleet_set_role(person text, role text)
RETURNS void {_DEFINER} AS $$
DECLARE grp text := {_GROUP_OF}; grp_held name;
BEGIN
{_CHECK_GROUP}
{_CHECK_PERSON}
    IF grp <> '{ADMIN}' THEN
{_KEEP_AN_ADMIN}
    END IF;
{_REVOKE_GROUPS}
    EXECUTE format('GRANT %I TO %I', grp, person);
    EXECUTE format('ALTER ROLE %I LOGIN', person);
END
$$;
CREATE OR REPLACE FUNCTION fleet_revoke_person(person text)
RETURNS void {_DEFINER} AS $$
DECLARE grp_held name;
BEGIN
{_CHECK_PERSON}
{_KEEP_AN_ADMIN}
{_REVOKE_GROUPS}
    EXECUTE format('ALTER ROLE %I NOLOGIN', person);
END
$$;
"""

_PEOPLE_SIGNATURES = (
    "fleet_add_person(text, text, text)",
    "fleet_set_role(text, text)",
    "fleet_revoke_person(text)",
)


def install_people_functions(connection: Connection) -> None:
    """The administrator's functions, owned by fleet_accounts and callable only by
    fleet_admin (idempotent; needs a superuser, who can hand them to fleet_accounts)."""
    connection.execute(text(PEOPLE_FUNCTIONS_SQL))
    for signature in _PEOPLE_SIGNATURES:
        connection.exec_driver_sql(f"ALTER FUNCTION {signature} OWNER TO {ACCOUNTS}")
        connection.exec_driver_sql(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        connection.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {signature} TO {ADMIN}")


def password_verifier(connection: Connection, login: str, password: str) -> str:
    """The SCRAM verifier of ``password``, computed by libpq on this machine, so the
    password itself never travels to the server or into its logs."""
    pgconn: Any = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
    verifier: bytes = pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256")
    return verifier.decode()


def add_person(connection: Connection, login: str, role: str, verifier: str | None) -> None:
    connection.execute(
        text("SELECT fleet_add_person(:login, :role, :verifier)"),
        {"login": login, "role": role, "verifier": verifier},
    )


def set_role(connection: Connection, login: str, role: str) -> None:
    connection.execute(text("SELECT fleet_set_role(:login, :role)"), {"login": login, "role": role})


def revoke_person(connection: Connection, login: str) -> None:
    connection.execute(text("SELECT fleet_revoke_person(:login)"), {"login": login})


def add_collector(connection: Connection, login: str, verifier: str | None) -> None:
    """A login for the collector (superuser only: an administrator cannot make one, or
    they could read the tokens through it)."""
    statement = connection.execute(  # CREATE ROLE takes no parameters: quote server-side
        text(
            f"SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE {COLLECTOR}', "
            "CAST(:l AS text), CAST(:v AS text))"
        ),
        {"l": login, "v": verifier},
    ).scalar_one()
    connection.exec_driver_sql(statement)


# -- who is signed in, and may they ----------------------------------------------------------


def role_of(connection: Connection, login: str) -> str | None:
    """The highest Fleet Console role ``login`` holds (see :class:`SignedIn`), or None."""
    row = connection.execute(
        text(
            "SELECT r.rolsuper OR pg_has_role(r.oid, n.nspowner, 'MEMBER') "
            "FROM pg_roles r, pg_namespace n WHERE r.rolname = :login "
            "AND n.nspname = current_schema()"
        ),
        {"login": login},
    ).first()
    if row is None:
        return None
    if row[0]:
        return "owner"
    for role, group in (("collector", COLLECTOR), *reversed(PEOPLE_ROLES.items())):
        held = connection.execute(
            text("SELECT pg_has_role(:login, :group, 'MEMBER')"), {"login": login, "group": group}
        ).scalar()
        if held:
            return role
    return None


def command_refusal(
    connection: Connection, login: str | None, *, what: str = "send commands"
) -> str | None:
    """Why ``login`` may not have a command executed now (or, ``what``, a car connected),
    or None if they may.

    Everything comes from the catalog, nothing from what the client wrote: the role held
    now (a person revoked after queueing is refused), whether the login is still enabled
    and not past its VALID UNTIL.
    """
    if login is None:
        return "the request names no signed-in requester; it was not sent"
    if not _roles_exist(connection):
        return f"the database's roles were never created ({INIT_COMMAND}); not sent"
    row = connection.execute(  # 'infinity' has no Python datetime: compare and format here
        text(
            "SELECT rolcanlogin, rolvaliduntil <= now(), "
            "to_char(rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
            "FROM pg_roles WHERE rolname = :login"
        ),
        {"login": login},
    ).first()
    if row is None:
        return f"{login} no longer exists; not sent"
    role = role_of(connection, login)
    if role not in ("owner", "dispatcher", "manager", "admin"):
        return f"{login} may not {what} (role {role or 'none'})"
    can_login, expired, valid_until = row
    if not can_login:
        return f"{login} may not {what} (signing in is disabled)"
    if expired:
        return f"{login} may not {what} (the login expired {valid_until} UTC)"
    return None


def check_access(engine: Engine, describe: str) -> SignedIn:
    """Connect to a shared database and say who this is; raise DatabaseError otherwise.

    For shared mode's start (console and collector): a wrong password, a missing login,
    a cluster whose roles were never created or a login without a role each become one
    message for the operator instead of a traceback later.
    """
    try:
        with engine.connect() as connection:
            if not _roles_exist(connection):
                raise DatabaseError(
                    f"{describe} has no Fleet Console roles yet: a database administrator "
                    f"creates them with `{INIT_COMMAND}` (as a superuser), then adds people "
                    "with `python main.py roles add NAME --role viewer`"
                )
            login = connection.execute(text("SELECT session_user")).scalar_one()
            role = role_of(connection, login)
    except OperationalError as exc:
        detail = _first_line(exc)
        if "password authentication failed" in detail or "no password supplied" in detail:
            raise SignInRefused(_connect_problem(exc, describe)) from None
        raise DatabaseError(_connect_problem(exc, describe)) from None
    except DBAPIError as exc:
        raise DatabaseError(f"cannot use {describe}: {_first_line(exc)}") from None
    if role is None:
        raise DatabaseError(
            f"{login} has no Fleet Console role on {describe}: ask an administrator to run "
            f"`python main.py roles add` or `roles set-role {login} --role viewer`"
        )
    return SignedIn(login, role)


#: PostgreSQL's SQLSTATE for "insufficient_privilege": a grant or a row trigger.
_INSUFFICIENT_PRIVILEGE = "42501"


def refusal_text(exc: DBAPIError, signed_in: SignedIn | None) -> str | None:
    """The operator's words for a refusal by the roles, or None if ``exc`` is another error.

    The database's own reason is kept ("permission denied for table vehicle"), without the
    SQL statement SQLAlchemy appends, with who was refused and what to do about it.
    """
    if getattr(exc.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
        return None
    who = f"{signed_in.login} ({title_of(signed_in.role)})" if signed_in else "this login"
    return (
        f"The database refused this for {who}: {_first_line(exc)}. Nothing was saved; "
        "if your role should allow it, ask an administrator."
    )


def title_of(role: str) -> str:
    """ "dispatcher" -> "Dispatcher", "manager" -> "Fleet manager"; "owner" for the owner."""
    return next((a.title for a in ALLOWED if a.role == role), role.capitalize())


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)


def _connect_problem(exc: OperationalError, describe: str) -> str:
    detail = _first_line(exc)
    if "password authentication failed" in detail:
        return (
            f"{describe} refused the password ({detail.rpartition(': ')[2].strip()}); check the "
            "password in ~/.pgpass, PGPASSWORD or the service file, or ask an administrator "
            "to reset it"
        )
    if "is not permitted to log in" in detail:
        return (
            f"{describe}: this login may not sign in (revoked by an administrator); ask an "
            "administrator to give it a role again"
        )
    if "no password supplied" in detail:
        return (
            f"{describe} needs a password: put it in ~/.pgpass (host:port:db:user:password), "
            "a PostgreSQL service file or PGPASSWORD"
        )
    return f"cannot connect to {describe}: {detail}"
