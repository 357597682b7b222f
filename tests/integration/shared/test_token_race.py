"""Two processes refreshing one grant at once: every refresh succeeds, one valid pair is left."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta

import keyring.backends.fail
import pytest
import pytest_asyncio

from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.models.connections import ConnectionRepository
from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.connections.token_cipher import TokenCipher
from app.services.connections.tokens import TokenKeeper, encrypt_pair
from tests.integration.integrations.smartcar.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    start_test_simulator,
)
from tests.integration.integrations.smartcar.helpers import connect
from tests.integration.shared.collectors import ROOT

ROUNDS = 6


@pytest_asyncio.fixture
async def simulator():
    sim = await start_test_simulator()
    yield sim
    await sim.stop()


def _store_connection(database: Database, cipher: TokenCipher, tokens) -> int:
    vehicle_id = VehicleRepository(database).add(
        VehicleFields(name="Raced car", fleet_number="R-1", kind="car")
    )
    return ConnectionRepository(database).save_link(
        vehicle_id,
        smartcar_vehicle_id="sc-raced",
        smartcar_user_id="user-raced",
        scopes=["read_vehicle_info"],
        tokens=encrypt_pair(cipher, tokens),
        status=ConnectionStatus.ACTIVE.value,
        reason="",
        now=datetime.now(UTC),
        identity=("", "", None, None),
    )


@pytest.mark.asyncio
async def test_a_refresh_raced_from_two_processes_leaves_one_valid_pair(
    tmp_path, pg_url, simulator
):
    origins = SmartcarOrigins.for_simulator(simulator.base_url)
    client = SmartcarClient(origins, SmartcarCredentials(CLIENT_ID, CLIENT_SECRET, REDIRECT))
    database = Database(pg_url)
    # The key file both worker processes read too (never a keyring another test set up).
    cipher = TokenCipher(tmp_path, keyring.backends.fail.Keyring())
    try:
        database.migrate()
        connection_id = _store_connection(database, cipher, await connect(client))
        go = tmp_path / "go"
        args = [pg_url, str(tmp_path), simulator.base_url, CLIENT_ID, CLIENT_SECRET, REDIRECT]
        args += [str(connection_id), str(go), str(ROUNDS)]
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.integration.shared.refresh_worker",
                *args,
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        go.touch()
        outputs = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), 60)
        results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
        assert [r["errors"] for r in results] == [[], []]
        assert sum(r["ok"] for r in results) == 2 * ROUNDS

        # The pair left in the database is the live one: it refreshes and it reads.
        repo = ConnectionRepository(database)
        keeper = TokenKeeper(database, repo, cipher, lambda: client, lambda _v: None)
        token = await keeper.access_token(connection_id, lead=timedelta(days=1))
        assert (await client.all_vehicle_ids(token)) != []
        record = repo.get(connection_id)
        assert record is not None and record.status == ConnectionStatus.ACTIVE.value
    finally:
        await client.aclose()
        database.close()
