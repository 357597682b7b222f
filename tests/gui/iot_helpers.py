"""A running demo IoT side (writer, gateway, simulated devices) for the GUI tests.

Started and stopped inside the test's own coroutine, not in a fixture: background tasks
that straddle two ``run_until_complete`` calls of the session's qasync loop may be woken
while no loop is running (qasync processes events after each call), which would kill the
writer task at random.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from app.services.iot.runtime import IotRuntime, start_iot
from app.views.live_updates import LiveUpdates
from app.views.main_window import MainWindow


@contextlib.asynccontextmanager
async def running_iot(window: MainWindow) -> AsyncIterator[IotRuntime]:
    """Demo IoT runtime reporting fast, wired to the window as main.py wires it."""
    context = window.context
    writer = context.telemetry_writer
    assert writer is not None, "a demo console stores its own telemetry"
    window.live_updates = LiveUpdates(window.fleet, context.vehicles)
    writer.commits.subscribe(window.live_updates.vehicles_changed)
    writer_task = asyncio.get_running_loop().create_task(writer.run())
    runtime = await start_iot(
        context.database,
        context.settings,
        writer,
        demo=True,
        report_interval_s=0.2,
        demo_gps=False,  # serial is covered in tests/integration/services/iot
    )
    context.iot.current = runtime
    try:
        yield runtime
    finally:
        context.iot.current = None
        await runtime.aclose()
        writer_task.cancel()
        await asyncio.gather(writer_task, return_exceptions=True)
