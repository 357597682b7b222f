"""A headless IoT store, as a process to kill: ``python -m tests.helpers.iot_harness DB PORT``.

The real gateway (GT06 on ``PORT``), ingest and telemetry writer on the SQLite file ``DB``
(migrated on start), nothing else: what the console and the collector run for devices.
Prints ``ready`` once it listens. The kill test SIGKILLs it at random moments.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from app.integrations.iot.gateway import GatewayConfig, IotGateway
from app.models.database import Database, sqlite_url
from app.services.iot.ingest import IotIngest
from app.services.telemetry.writer import TelemetryWriter


async def serve(database_file: Path, port: int) -> None:
    database = Database(sqlite_url(database_file))
    database.migrate()
    writer = TelemetryWriter(database)
    ingest = IotIngest(database, writer)
    await ingest.refresh()
    gateway = IotGateway(GatewayConfig(ports={"gt06": port}, host="127.0.0.1"), ingest)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(writer.run()), loop.create_task(ingest.run())]
    await gateway.start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))
