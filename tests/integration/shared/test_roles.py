"""Who may do what, enforced by PostgreSQL: raw SQL as each role (issue #18).

Each test signs people in with their own password over TCP, as a workstation would, and
talks to the database directly, not through the console: what the database refuses here
no client can do. Logins are cluster-wide, so every test makes its own, uniquely named,
and drops them after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import text

from app import roles_cli
from app.models import roles
from app.models.alerts import AlertRepository
from app.models.command_audit import CommandAudit
from app.models.database import Database
from app.models.errors import DatabaseError
from app.models.orm import Alert, Command, Rental
from app.models.rentals import RentalRepository
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.commands.collector_relay import CommandRelay, queue_command
from app.services.commands.console_requests import give_up
from app.services.commands.senders import CommandOutcome, LockReading
from tests.helpers.postgres import running_postgres
from tests.helpers.waiting import until
from tests.integration.shared.collectors import ROOT, CollectorProcess, write_settings
from tests.integration.shared.people import NAMES

_QUEUE = (
    "INSERT INTO command (vehicle_id, action, channel, actor_user, actor_host, reason, state, "
    "error, created_at, updated_at, requester) VALUES (1, 'unlock', %s, 'boss', 'desk', '', "
    "%s, '', now(), now(), %s) RETURNING id, requester, state"
)


def test_a_viewer_reads_but_cannot_command_change_a_vehicle_or_read_a_token(fleet):
    viewer = fleet.person("viewer")
    with fleet.connect(viewer) as conn:
        assert conn.execute("SELECT name FROM vehicle").fetchall() == [("Focus",)]
        assert conn.execute("SELECT status FROM smartcar_connection").fetchall() == [("connected",)]
        with pytest.raises(errors.InsufficientPrivilege, match="table command"):
            conn.execute(_QUEUE, ("relay", "queued", None))
        with pytest.raises(errors.InsufficientPrivilege, match="table vehicle"):
            conn.execute("UPDATE vehicle SET name = 'mine'")
        for column in roles.SECRET_COLUMNS["smartcar_connection"]:
            with pytest.raises(errors.InsufficientPrivilege, match="smartcar_connection"):
                conn.execute(f"SELECT {column} FROM smartcar_connection")
        with pytest.raises(errors.InsufficientPrivilege, match="smartcar_connection"):
            conn.execute("SELECT * FROM smartcar_connection")


def test_a_dispatcher_queues_a_command_but_cannot_read_a_token_or_change_a_role(fleet):
    dispatcher, viewer = fleet.person("dispatcher"), fleet.person("viewer")
    with fleet.connect(dispatcher) as conn:
        request, requester, state = conn.execute(
            _QUEUE, ("relay", "confirmed", "postgres")
        ).fetchone()
        # The forged requester and state are overwritten by the trigger.
        assert (requester, state) == (dispatcher, "queued")
        with pytest.raises(errors.InsufficientPrivilege, match="only queue commands"):
            conn.execute(_QUEUE, ("smartcar", "confirmed", None))  # a forged execution row
        with pytest.raises(errors.InsufficientPrivilege, match="smartcar_connection"):
            conn.execute("SELECT refresh_token_enc FROM smartcar_connection")
        with pytest.raises(errors.InsufficientPrivilege, match="fleet_set_role"):
            conn.execute("SELECT fleet_set_role(%s, 'admin')", (dispatcher,))
        with pytest.raises(errors.InsufficientPrivilege, match="table vehicle"):
            conn.execute("UPDATE vehicle SET name = 'mine'")
        with pytest.raises(errors.InsufficientPrivilege, match="table command"):
            conn.execute("UPDATE command SET requester = 'boss'")
        # Their own pending request they may time out; nothing else.
        conn.execute("UPDATE command SET state = 'timed_out' WHERE id = %s", (request,))
        with pytest.raises(errors.InsufficientPrivilege, match="time out their own"):
            conn.execute("UPDATE command SET state = 'confirmed' WHERE id = %s", (request,))
        conn.execute("UPDATE alert SET acknowledged_by = 'me'")  # acknowledging is theirs
    with fleet.connect(viewer) as conn:
        assert conn.execute("SELECT requester FROM command").fetchall() == [(dispatcher,)]


def test_a_manager_edits_vehicles_and_an_administrator_manages_people(fleet):
    manager, admin = fleet.person("manager"), fleet.person("admin")
    with Database(fleet.url_of(manager)) as db:  # the console's own path: Edit Vehicle
        vehicles = VehicleRepository(db)
        fields = vehicles.fields(1)
        vehicles.update(1, replace(fields, name="Focus 2"))
        vehicles.add(VehicleFields(name="Bike", fleet_number="B-1", kind="e-bike"))
        assert [r.name for r in vehicles.list_rows()] == ["Focus 2", "Bike"]
    with (
        fleet.connect(manager) as conn,
        pytest.raises(errors.InsufficientPrivilege, match="fleet_add_person"),
    ):
        conn.execute("SELECT fleet_add_person('x', 'admin', NULL)")
    newcomer = f"p{os.getpid()}_{next(NAMES)}_new"
    fleet.made.append(newcomer)
    admin_url = fleet.url_of(admin)
    report = roles_cli.run(
        ["add", newcomer, "--role", "viewer", "--db", admin_url], read=lambda _: "pw 1"
    )
    assert report == f"{newcomer} added as viewer"
    assert roles_cli.run(["set-role", newcomer, "--role", "dispatcher", "--db", admin_url])
    with Database(fleet.url_of(newcomer, "pw 1")) as db:
        assert db.check_access() == roles.SignedIn(newcomer, "dispatcher")
    # An administrator cannot touch a login that is not a Fleet Console person.
    with pytest.raises(DatabaseError, match="is not a Fleet Console person"):
        roles_cli.run(["revoke", fleet.collector, "--db", admin_url])
    with pytest.raises(DatabaseError, match="is not a Fleet Console person"):
        roles_cli.run(["set-role", "postgres", "--role", "viewer", "--db", admin_url])
    with pytest.raises(DatabaseError, match="needs the administrator role"):
        roles_cli.run(["revoke", newcomer, "--db", fleet.url_of(manager)])
    with pytest.raises(DatabaseError, match="is the last administrator"):
        roles_cli.run(["set-role", admin, "--role", "viewer", "--db", admin_url])
    roles_cli.run(["set-role", newcomer, "--role", "admin", "--db", admin_url])
    assert roles_cli.run(["revoke", admin, "--db", fleet.url_of(newcomer, "pw 1")])
    with pytest.raises(DatabaseError, match="is the last administrator"):
        roles_cli.run(["revoke", newcomer, "--db", fleet.url_of(newcomer, "pw 1")])


def test_a_person_revoked_mid_shift_is_refused_at_their_next_insert(fleet):
    dispatcher, admin = fleet.person("dispatcher"), fleet.person("admin")
    with fleet.connect(dispatcher) as conn:
        conn.execute(_QUEUE, ("relay", "queued", None))
        roles_cli.run(["revoke", dispatcher, "--db", fleet.url_of(admin)])
        with pytest.raises(errors.InsufficientPrivilege, match="table command"):
            conn.execute(_QUEUE, ("relay", "queued", None))
    with pytest.raises(DatabaseError, match=r"may not sign in \(revoked by an administrator\)"):
        Database(fleet.url_of(dispatcher)).check_access()


@dataclass
class Executor:
    """The collector's command path, recording what it was asked to send."""

    sent: list[tuple[int, str, str]] = field(default_factory=list)

    async def lock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.sent.append((vehicle_id, "lock", reason))
        return CommandOutcome(True, "lock", "", LockReading(True, ()))

    async def unlock(self, vehicle_id: int, *, reason: str = "") -> CommandOutcome:
        self.sent.append((vehicle_id, "unlock", reason))
        return CommandOutcome(True, "unlock", "", LockReading(False, ()))

    async def read_lock_status(self, vehicle_id: int) -> LockReading:
        raise AssertionError("the relay never reads")


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.commands.collector_relay", r"refused: .* may not send")
async def test_the_collector_refuses_a_command_whose_requester_lacks_the_right(fleet):
    dispatcher, demoted, expired, admin = (
        fleet.person(role) for role in ("dispatcher", "dispatcher", "dispatcher", "admin")
    )
    ids = {}
    for login in (dispatcher, demoted, expired):
        with fleet.connect(login) as conn:
            ids[login] = conn.execute(_QUEUE, ("relay", "queued", "postgres")).fetchone()[0]
    roles_cli.run(["set-role", demoted, "--role", "viewer", "--db", fleet.url_of(admin)])
    with psycopg.connect(fleet.server.dsn(), autocommit=True) as conn:
        conn.execute(f"ALTER ROLE \"{expired}\" VALID UNTIL '2020-01-01 00:00+00'")
    executor = Executor()
    with Database(fleet.url_of(fleet.collector, "x")) as collector_db:  # the collector's login
        relay = CommandRelay(collector_db, executor, max_age_s=600)
        assert await relay.sweep() == 1
        rows = {e.id: (e.state, e.error) for e in CommandAudit(collector_db).for_vehicle(1)}
    assert executor.sent == [
        (1, "unlock", f"request #{ids[dispatcher]} of {dispatcher} (boss@desk)")
    ]
    assert rows[ids[dispatcher]] == ("confirmed", "")
    assert rows[ids[demoted]] == ("failed", f"{demoted} may not send commands (role viewer)")
    state, error = rows[ids[expired]]
    assert state == "failed" and error.startswith(
        f"{expired} may not send commands (the login expired 2020-01-01"
    )


def test_roles_init_is_idempotent(fleet):
    admin = f"p{os.getpid()}_{next(NAMES)}_first"
    fleet.made.append(admin)
    asked: list[str] = []

    def read(prompt: str) -> str:
        asked.append(prompt)
        return "first pw"

    first = roles_cli.run(["init", "--db", fleet.url, "--admin", admin], read=read)
    assert "roles: all present" in first and f"{admin} created (admin)" in first
    assert asked == [f"Password for {admin}: ", f"Password for {admin} again: "]
    again = roles_cli.run(["init", "--db", fleet.url, "--admin", admin], read=read)
    assert f"{admin} already exists; left as it is" in again and len(asked) == 2
    assert "first pw" not in first + again
    with Database(fleet.url_of(admin, "first pw")) as db:
        assert db.check_access() == roles.SignedIn(admin, "admin")


def test_roles_init_reinstalls_every_row_trigger(fleet):
    """A database whose triggers were lost (restored without them) or are older than this
    release gets them all back from ``roles init``, run twice; the field task creator too."""
    triggers = {
        "fleet_command_guard": "command",
        "fleet_connect_request_guard": "connect_request",
        "fleet_task_creator": "field_task",
        "fleet_notification_guard": "notification",
        "fleet_alert_acknowledger": "alert",
        "fleet_rental_operator": "rental",
    }
    installed = "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'fleet%%'"
    with psycopg.connect(fleet.server.dsn(fleet.url.rpartition("/")[2]), autocommit=True) as c:
        for name, table in triggers.items():
            c.execute(f"DROP TRIGGER {name} ON {table}")
            c.execute(f"DROP FUNCTION {name}()")
        assert c.execute(installed).fetchall() == []
        for _ in range(2):
            roles_cli.run(["init", "--db", fleet.url])
            assert dict(c.execute(installed).fetchall()) == triggers
    bob = fleet.person("dispatcher")
    with fleet.connect(bob) as as_bob:
        creator = as_bob.execute(
            "INSERT INTO field_task (vehicle_id, kind, state, priority, assignee, notes, "
            "reason, created_by, created_at, updated_at) VALUES (1, 'collect', 'open', "
            "'normal', '', '', '', 'someone else', now(), now()) RETURNING created_by"
        ).fetchone()
    assert creator == (bob,)


def test_a_wrong_password_is_a_clear_message(fleet):
    viewer = fleet.person("viewer")
    with pytest.raises(DatabaseError, match=r"refused the password .* ~/\.pgpass"):
        Database(fleet.url_of(viewer, "wrong")).check_access()


def test_a_database_whose_roles_were_never_created_names_the_command():
    with (
        running_postgres() as bare,
        Database(bare.url()) as db,
        pytest.raises(DatabaseError) as caught,
    ):
        db.check_access()
    assert "python main.py roles init --db URL" in str(caught.value)


def test_sqlite_stays_single_user(tmp_path):
    with Database(f"sqlite:///{tmp_path / 'f.sqlite'}") as db:
        db.migrate()
        assert db.check_access() is None
        with db.engine.connect() as connection:
            assert not roles.roles_exist(connection)
            assert connection.execute(text("SELECT requester FROM command")).all() == []


def _collect(url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "collect", "--db", url, "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_collector_on_a_cluster_without_roles_or_with_a_person_login_does_not_start(
    fleet, tmp_path
):
    data_dir = write_settings(tmp_path)
    viewer = fleet.person("viewer")
    refused = _collect(fleet.url_of(viewer), data_dir)
    assert refused.returncode == 3
    assert f"{viewer} is a viewer's login, not the collector's" in refused.stderr
    with running_postgres() as bare:
        bare_db = bare.create_database()
        missing = _collect(bare_db, data_dir)
    assert missing.returncode == 3
    assert "python main.py roles init --db URL" in missing.stderr


@pytest.mark.asyncio
async def test_the_collector_executes_on_its_own_login_and_a_demoted_person_cannot_queue(
    fleet, tmp_path
):
    dispatcher, admin = fleet.person("dispatcher"), fleet.person("admin")
    collector = CollectorProcess(fleet.url_of(fleet.collector, "x"), write_settings(tmp_path))
    try:
        await until(lambda: collector.saw("collector: LEADER"), 60, "the collector to lead")
        with fleet.connect(dispatcher) as conn:
            sent = conn.execute(_QUEUE, ("relay", "queued", None)).fetchone()[0]
        with Database(fleet.url) as db:
            audit = CommandAudit(db)

            def state(request: int) -> tuple[str, str]:
                entry = next(e for e in audit.for_vehicle(1) if e.id == request)
                return entry.state, entry.error

            await until(lambda: state(sent)[0] == "failed", 30, "the dispatcher's request")
            assert "no connection" in state(sent)[1]  # checked, claimed and routed
            roles_cli.run(["set-role", dispatcher, "--role", "viewer", "--db", fleet.url_of(admin)])
            with fleet.connect(dispatcher) as conn, pytest.raises(errors.InsufficientPrivilege):
                conn.execute(_QUEUE, ("relay", "queued", None))
    finally:
        collector.kill()


def test_the_consoles_own_paths_work_for_a_dispatcher(fleet):
    """Commands (queue_command, give_up: ORM, RETURNING, FOR UPDATE), a rental and an
    alert's acknowledgement, as the console writes them."""
    dispatcher = fleet.person("dispatcher")
    with psycopg.connect(fleet.server.dsn(fleet.url.rpartition("/")[2]), autocommit=True) as c:
        c.execute(
            "INSERT INTO alert (vehicle_id, kind, severity, message, first_seen, last_seen, "
            "count) VALUES (1, 'offline', 'warning', '', now(), now(), 1)"
        )
    with Database(fleet.url_of(dispatcher)) as db:
        now = datetime.now(UTC)
        rentals = RentalRepository(db)
        rental = rentals.open(
            1,
            state="reserved",
            open_states=["reserved"],
            operator="me",
            customer_ref="",
            now=now,
            deadline=now,
        )
        assert rentals.move(rental, "reserved", "active", started_at=now).state == "active"
        assert AlertRepository(db).acknowledge([1], "me", now) == 1
        with db.session() as session:  # the database names who did it, not the client
            assert session.get_one(Rental, rental).operator == dispatcher
            assert session.get_one(Alert, 1).acknowledged_by == dispatcher
        request = queue_command(db, 1, "lock", actor_user="boss", actor_host="desk")
        state, error = give_up(db, request, 5, datetime.now(UTC))
        assert state == "timed_out" and "not sent" in error
        with db.session() as session:
            row = session.get_one(Command, request)
            assert (row.requester, row.state) == (dispatcher, "timed_out")
