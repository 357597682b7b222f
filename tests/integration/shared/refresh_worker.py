"""One process refreshing a stored connection's tokens repeatedly (the race test's worker).

    python -m tests.integration.shared.refresh_worker URL DATA_DIR SIM_URL CLIENT SECRET
        REDIRECT CONNECTION_ID GO_FILE COUNT

Waits for GO_FILE to exist (so two workers start together), then forces COUNT refreshes
through the real TokenKeeper and prints {"ok": n, "errors": [...]} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

import keyring.backends.fail

from app.integrations.smartcar import SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.models.connections import ConnectionRepository
from app.models.database import Database
from app.services.connections.token_cipher import TokenCipher
from app.services.connections.tokens import ConnectionProblem, TokenKeeper


async def run(argv: list[str]) -> dict[str, object]:
    url, data_dir, sim, client_id, secret, redirect, connection, go, count = argv
    database = Database(url)
    client = SmartcarClient(
        SmartcarOrigins.for_simulator(sim), SmartcarCredentials(client_id, secret, redirect)
    )
    repo = ConnectionRepository(database)
    keeper = TokenKeeper(
        database,
        repo,
        TokenCipher(Path(data_dir), keyring.backends.fail.Keyring()),
        lambda: client,
        print,
    )
    ok, errors = 0, []
    try:
        while not Path(go).exists():  # the start line shared with the other worker
            await asyncio.sleep(0.002)
        for _ in range(int(count)):
            try:
                # A lead of a day makes every call a real refresh (tokens live 2 hours).
                await keeper.access_token(int(connection), lead=timedelta(days=1))
                ok += 1
            except ConnectionProblem as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        await client.aclose()
        database.close()
    return {"ok": ok, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(sys.argv[1:]))))
