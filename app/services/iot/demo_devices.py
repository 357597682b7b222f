"""The demo's simulated devices, run on their own thread and event loop, like real hardware.

Simulated scooters are "the outside world": giving them a plain asyncio loop on a thread
of their own keeps their work off the console's UI loop, and keeps the simulated GPS's
pseudo-terminal writes away from the Qt-driven loop (under qasync those writes upset the
gateway's sockets; on a separate loop they behave as in the standalone simulator).

The thread is a supervised worker too: ``run`` (spawned with restart by the IoT runtime)
waits for the thread and raises when it ends on its own, so a crashed simulation shows
in the status bar and starts again on a fresh thread, devices at their demo positions.
The simulated GPS is opened through a stable symlink (as udev names real adapters), so
its serial reader finds the new pseudo-terminal of a restarted simulation by itself.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from app.integrations.iot.simulator import RunningDeviceSim, SimDeviceSpec, start_device_simulator

logger = logging.getLogger(__name__)


class ThreadedDeviceSim:
    """``start_device_simulator`` on a daemon thread; ``sim`` is the running simulation.

    ``gps_interval`` None: no simulated GPS.
    """

    def __init__(
        self,
        gateway_ports: Mapping[str, int],
        specs: list[SimDeviceSpec],
        *,
        starts: Mapping[str, tuple[float, float]],
        seed: int,
        gps_interval: float | None,
    ) -> None:
        self._ports = dict(gateway_ports)
        self._specs = specs
        self._starts = dict(starts)
        self._seed = seed
        self._gps_interval = gps_interval
        self._gps_dir = Path(tempfile.mkdtemp(prefix="fleet-demo-gps-")) if gps_interval else None
        self.sim: RunningDeviceSim | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ended: asyncio.Future[BaseException | None] | None = None
        self._stopped = False  # stop() was asked for: the end is no failure

    @property
    def device_count(self) -> int:
        """How many simulated devices this simulator runs (0 for a fleet without IoT)."""
        return len(self._specs)

    @property
    def devices(self) -> dict:
        return self.sim.devices if self.sim is not None else {}

    @property
    def gps_path(self) -> str | None:
        """The GPS's stable name (a symlink to the pty of the simulation running now)."""
        return str(self._gps_dir / "gps") if self._gps_dir is not None else None

    async def start(self, timeout: float = 10.0) -> None:
        """Start a thread and wait until every device task and the GPS pty exist."""
        console = asyncio.get_running_loop()
        self._ready.clear()
        self._error = None
        self._stopped = False
        self._ended = ended = console.create_future()

        def finished() -> None:
            if not ended.done():
                ended.set_result(self._error)

        def main() -> None:
            self._main()
            console.call_soon_threadsafe(finished)

        self._thread = threading.Thread(target=main, name="iot-demo-devices", daemon=True)
        self._thread.start()
        if not await asyncio.to_thread(self._ready.wait, timeout):
            raise RuntimeError("the device simulator thread did not start")
        if self._error is not None:
            raise self._error

    async def run(self) -> None:
        """Supervise the thread: raise when it ends by itself; stop it when cancelled.

        The first thread is started by ``start`` (the runtime needs the GPS path before
        it opens the serial reader); a restart starts a fresh one here.
        """
        try:
            if self._ended is None or self._ended.done():
                await self.start()
            assert self._ended is not None
            error = await asyncio.shield(self._ended)
            if self._stopped:  # stopped on purpose (a benchmark counting what was sent)
                await asyncio.Event().wait()  # nothing left to watch until quit
            raise RuntimeError(f"the simulated devices stopped: {error or 'their loop ended'}")
        except asyncio.CancelledError:
            await self.stop()
            raise

    async def stop(self) -> None:
        self._stopped = True
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None and self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, 10.0)

    def close(self) -> None:
        """Remove the GPS's symlink directory (after ``stop``)."""
        if self._gps_dir is not None:
            shutil.rmtree(self._gps_dir, ignore_errors=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported to start() or run(); the thread ends
            logger.exception("device simulator thread failed")
            self._error = exc
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        gps_path = self.gps_path
        sim = await start_device_simulator(
            self._ports,
            self._specs,
            "127.0.0.1",
            seed=self._seed,
            nmea_gps=self._gps_interval is not None,
            gps_interval=self._gps_interval or 1.0,
            gps_link=Path(gps_path) if gps_path else None,
        )
        for device_id, (lat, lon) in self._starts.items():  # where the demo fleet parks them
            vehicle = sim.devices[device_id].vehicle
            vehicle.latitude, vehicle.longitude = lat, lon
        self.sim = sim
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await sim.stop()
