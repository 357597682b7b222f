"""Connect on a shared database: the console hands the redirect to the collector (#18).

Real parts: PostgreSQL with the roles, the Smartcar simulator on a localhost socket, a
dispatcher's console context and the collector's, each built by the bootstrap as the
processes build them. Connect's pages are walked over HTTP, as the web view would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from psycopg import errors
from sqlalchemy import text

from app import roles_cli
from app.config import SECRET_ENV, DemoSettings, Settings, SmartcarSettings
from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.simulator import RunningSimulator, SimulatorConfig, start_simulator
from app.models.database import Database
from app.models.vehicles import VehicleFields, VehicleRepository
from app.paths import resolve_paths
from app.services.connections.backends import (
    DEMO_CLIENT_ID,
    DEMO_OWNER_EMAIL,
    Backends,
    simulator_specs,
    start_backends,
)
from app.services.connections.connect_results import ConnectFailed
from app.services.connections.handoff import (
    FAILED,
    LINKED,
    TIMED_OUT,
    Claimed,
    ConnectHandoff,
    HandoffClient,
    Outcome,
    abandon_in_flight,
    claim_next,
    request_outcome,
)
from app.services.connections.token_cipher import KEY_FILE_NAME, NoTokenKey, TokenCipher
from app.services.vehicles.demo_fleet import demo_fleet
from app.services.wiring.bootstrap import assemble, open_context, open_database
from app.services.wiring.context import AppContext, Role
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.integration.shared.people import Fleet
from tests.unit.services.connections.conftest import free_port

SECRET = "collector-only-secret"


@dataclass
class Pair:
    console: AppContext
    collector: AppContext
    vehicle_id: int
    vin: str


@pytest_asyncio.fixture(params=["3", "2.0"])
async def pair(request, fleet: Fleet, tmp_path, monkeypatch) -> AsyncIterator[Pair]:
    api = request.param
    redirect = f"http://127.0.0.1:{free_port()}/sc/callback"
    (spec,) = simulator_specs(demo_fleet(DemoSettings(cars=1, micromobility=0)))[:1]
    sim: RunningSimulator = await start_simulator(
        SimulatorConfig(
            client_id=DEMO_CLIENT_ID,
            client_secret=SECRET,
            redirect_uris=(redirect,),
            vehicles=[spec],
        )
    )
    origins = SmartcarOrigins.for_simulator(sim.base_url)
    credentials = SmartcarCredentials(DEMO_CLIENT_ID, SECRET, redirect)
    collector_backends = Backends(
        credentials=credentials,
        origins=origins,
        smartcar=SmartcarClient(origins, credentials, api_version=api),
        api_version=api,
    )
    with Database(fleet.url) as db:
        vehicle_id = VehicleRepository(db).add(
            VehicleFields(name="Focus", fleet_number="F-9", kind="car", vin=spec.vin)
        )
    settings = Settings(
        smartcar=SmartcarSettings(
            client_id=DEMO_CLIENT_ID,
            api_version=api,  # type: ignore[arg-type]
            redirect_uri=redirect,
            connect_origin=origins.connect,
        )
    )
    # The console's process could find a secret in its environment: it must not use it.
    monkeypatch.setenv(SECRET_ENV, "a-workstation-must-not-read-this")
    dispatcher = fleet.person("dispatcher")
    console_paths = resolve_paths(tmp_path / "console").ensure()
    console_backends = await start_backends(
        settings, demo=False, offline=False, shared_console=True
    )
    console = assemble(
        open_database(settings, console_paths, db_url=fleet.url_of(dispatcher)),
        console_backends,
        role=Role.CONSOLE,
    )
    collector_url = fleet.server.url_as(fleet.collector, "unused", fleet.url)
    collector = assemble(
        open_database(
            settings, resolve_paths(tmp_path / "collector").ensure(), db_url=collector_url
        ),
        collector_backends,
        role=Role.COLLECTOR,
    )
    assert collector.connect_handoff is not None
    running = asyncio.get_running_loop().create_task(collector.connect_handoff.run())
    try:
        yield Pair(console, collector, vehicle_id, spec.vin)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        console.close()
        collector.close()
        await collector_backends.aclose()
        await sim.stop()


async def _connect(console: AppContext, vehicle_id: int, vin: str):
    service = console.connections
    url = service.begin(vehicle_id, vin)
    redirect = await asyncio.to_thread(walk_connect, url, email=DEMO_OWNER_EMAIL)
    return await service.hand_off(redirect)


@pytest.mark.asyncio
async def test_a_dispatchers_console_connects_a_car_through_the_collector(pair):
    console = pair.console
    # The console never had the secret, the token key or a Smartcar client.
    backends = console.backends
    assert backends.connect_only and backends.smartcar is None
    assert backends.credentials is not None and backends.credentials.client_secret == ""
    assert backends.management_token is None
    assert isinstance(console.connections.cipher, NoTokenKey)
    assert not (console.paths.data_dir / KEY_FILE_NAME).exists()
    assert console.connections.hands_off

    record = await _connect(console, pair.vehicle_id, pair.vin)
    assert record.vehicle_id == pair.vehicle_id and record.status == "active"
    assert record.can_call and record.vin == pair.vin
    assert record.api_version == console.connections.api_version
    # The collector stored it (v2.0: with its encrypted pair) and the console reads it.
    shown = await console.connections.connection_for(pair.vehicle_id)
    assert shown is not None and shown.id == record.id and shown.can_call
    if not record.v3:  # the pair went to the collector, which alone may read it
        tokens = await pair.collector.database.run(
            pair.collector.connections.repository.tokens, record.id
        )
        assert tokens is not None

    with pair.collector.database.engine.connect() as conn:  # the one-time code is gone
        codes = conn.execute(text("SELECT code FROM connect_request")).scalars().all()
    assert codes == [None]

    # Disconnect is handed over too.
    await console.connections.disconnect(record.id)
    gone = await console.connections.connection_for(pair.vehicle_id)
    assert gone is not None and gone.status == "disconnected" and not gone.can_call


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.connections.service", r"bad state")
async def test_the_collectors_refusal_comes_back_to_the_console_and_nothing_is_linked(pair, fleet):
    with Database(fleet.url) as db:
        other = VehicleRepository(db).add(
            VehicleFields(name="Golf", fleet_number="G-1", kind="car", vin="WVWZZZ1KZAW000001")
        )
    with pytest.raises(ConnectFailed, match="Correct the vehicle's VIN"):
        await _connect(pair.console, other, None)
    assert await pair.console.connections.connection_for(other) is None
    # A redirect whose state this console never issued is refused here, never handed over.
    with pytest.raises(ConnectFailed, match="state mismatch"):
        await pair.console.connections.hand_off("http://127.0.0.1/sc/callback?state=x&code=y")


_INSERT = (
    "INSERT INTO connect_request (vehicle_id, action, api_version, smartcar_user_id, "
    "connection_id, requester, state, error, created_at, updated_at) VALUES "
    "(1, 'connect', '3', 'user-1', 7, 'boss', 'linked', 'forged', now(), now()) "
    "RETURNING id, requester, state, error, connection_id"
)


def test_a_viewer_may_not_ask_and_a_dispatchers_forged_requester_is_overwritten(fleet):
    viewer, dispatcher = fleet.person("viewer"), fleet.person("dispatcher")
    with (
        fleet.connect(viewer) as conn,
        pytest.raises(errors.InsufficientPrivilege, match="connect_request"),
    ):
        conn.execute(_INSERT)
    with fleet.connect(dispatcher) as conn:
        (request_id, requester, state, error, connection_id) = conn.execute(_INSERT).fetchone()
        assert (requester, state, error, connection_id) == (dispatcher, "queued", "", None)
        with pytest.raises(errors.InsufficientPrivilege, match="connect_request"):
            conn.execute("SELECT code FROM connect_request")  # a grant in flight
        # Only their own queued request, and only to time it out.
        with pytest.raises(errors.InsufficientPrivilege, match="time out"):
            conn.execute("UPDATE connect_request SET state = 'linked' WHERE id = %s", (request_id,))
        conn.execute("UPDATE connect_request SET state = 'timed_out' WHERE id = %s", (request_id,))
    other = fleet.person("dispatcher")
    with fleet.connect(dispatcher) as mine, fleet.connect(other) as theirs:
        (second, *_) = mine.execute(_INSERT).fetchone()
        with pytest.raises(errors.InsufficientPrivilege, match="time out"):
            theirs.execute(
                "UPDATE connect_request SET state = 'timed_out' WHERE id = %s", (second,)
            )


@pytest.mark.asyncio
@pytest.mark.expect_log("app.services.connections.handoff", r"refused: .* may not connect")
async def test_the_collector_refuses_a_request_whose_requester_lost_the_right(fleet):
    dispatcher, demoted, admin = (fleet.person(r) for r in ("dispatcher", "dispatcher", "admin"))
    ids = {}
    for login in (dispatcher, demoted):
        with fleet.connect(login) as conn:
            ids[login] = conn.execute(_INSERT).fetchone()[0]
    roles_cli.run(["set-role", demoted, "--role", "viewer", "--db", fleet.url_of(admin)])
    done: list[Claimed] = []

    async def execute(request: Claimed) -> Outcome:
        done.append(request)
        return Outcome(LINKED, connection_id=1)

    with Database(fleet.url_of(fleet.collector, "x")) as collector_db:
        assert await ConnectHandoff(collector_db, execute).sweep() == 1
        outcomes = {i: request_outcome(collector_db, i) for i in ids.values()}
    assert [(r.id, r.requester, r.user_id) for r in done] == [
        (ids[dispatcher], dispatcher, "user-1")
    ]
    assert outcomes[ids[dispatcher]] == Outcome(LINKED, "", 1)
    assert outcomes[ids[demoted]] == Outcome(
        FAILED, f"{demoted} may not connect or disconnect cars (role viewer)"
    )


@pytest.mark.asyncio
async def test_a_viewers_console_is_told_the_database_refused_and_nothing_is_queued(fleet):
    viewer = fleet.person("viewer")
    with Database(fleet.url_of(viewer)) as console_db:
        outcome = await HandoffClient(console_db, timeout_s=5).connect(1, "3", "user-1")
    assert outcome.state == FAILED
    assert outcome.error.startswith("The database refused this for ")
    assert "permission denied for table connect_request" in outcome.error
    with Database(fleet.url) as db, db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM connect_request")).scalar() == 0


@pytest.mark.asyncio
async def test_an_unanswered_request_times_out_and_a_later_collector_never_does_it(fleet):
    dispatcher = fleet.person("dispatcher")
    with Database(fleet.url_of(dispatcher)) as console_db:
        client = HandoffClient(console_db, timeout_s=0.3, poll_s=0.05)
        outcome = await client.connect(1, "3", "user-1")
    assert outcome.state == TIMED_OUT and "not done" in outcome.error

    async def execute(request: Claimed) -> Outcome:
        raise AssertionError("a timed-out request must never be carried out")

    with Database(fleet.url_of(fleet.collector, "x")) as collector_db:
        assert await ConnectHandoff(collector_db, execute).sweep() == 0


def test_a_request_left_working_by_a_stopped_collector_is_failed_not_redone(fleet):
    dispatcher = fleet.person("dispatcher")
    with fleet.connect(dispatcher) as conn:
        request_id = conn.execute(_INSERT).fetchone()[0]
    with Database(fleet.url_of(fleet.collector, "x")) as collector_db:
        now = datetime.now(UTC)
        claimed = claim_next(collector_db, now, timedelta(minutes=5))
        assert claimed is not None and claimed.id == request_id
        assert abandon_in_flight(collector_db, now) == [request_id]
        outcome = request_outcome(collector_db, request_id)
    assert outcome is not None and outcome.state == FAILED
    assert outcome.error.startswith("outcome unknown")


def test_only_a_shared_console_hands_off_and_holds_no_token_key(tmp_path, pg_url):
    def build(name: str, url: str | None, role: Role) -> tuple[bool, type]:
        paths = resolve_paths(tmp_path / name).ensure()
        context = open_context(Settings(), paths, db_url=url, role=role)
        try:
            connections = context.connections
            return connections.hands_off, type(connections.cipher)
        finally:
            context.close()

    assert build("console", pg_url, Role.CONSOLE) == (True, NoTokenKey)
    assert build("collector", pg_url, Role.COLLECTOR) == (False, TokenCipher)
    assert build("demo", None, Role.CONSOLE) == (False, TokenCipher)
