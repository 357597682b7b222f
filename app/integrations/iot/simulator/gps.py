"""A simulated NMEA GPS on a pseudo-terminal, for the serial-reader path.

The pty's slave side behaves like a USB GPS puck's ``/dev/ttyACM0``: open it with
pyserial (``path``) and RMC sentences arrive at the configured interval. An optional
symlink gives it a stable name, as udev rules do for real devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import tty
from pathlib import Path

from app.integrations.iot.codecs import nmea
from app.integrations.iot.simulator.vehicle import CITY_CENTRE, SimVehicle

logger = logging.getLogger(__name__)


class SimGps:
    """Writes one RMC sentence per ``interval`` to the master side of a pty."""

    def __init__(
        self,
        rng: random.Random,
        *,
        interval: float = 1.0,
        link: Path | None = None,
        centre: tuple[float, float] = CITY_CENTRE,
    ):
        self.interval = interval
        self.link = link
        self.vehicle = SimVehicle.spawn("nmea-gps", "ebike", rng, centre)
        self.vehicle.locked = False  # a GPS on a moving vehicle
        self.sentences_written = self.sentences_dropped = 0
        self._master: int | None = None
        self._slave: int | None = None
        self._tty_path = ""
        self._task: asyncio.Task[None] | None = None

    @property
    def path(self) -> str:
        return str(self.link) if self.link is not None else self._tty_path

    def start(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing before a reader configures the port
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._tty_path = os.ttyname(slave)
        if self.link is not None:
            tmp = self.link.with_name(self.link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self._tty_path)
            tmp.replace(self.link)
        self._task = asyncio.get_running_loop().create_task(self._run())
        logger.info("simulated NMEA GPS on %s", self.path)

    async def _run(self) -> None:
        while True:
            self.vehicle.step(self.interval)
            sentence = nmea.build_rmc(
                self.vehicle.latitude,
                self.vehicle.longitude,
                self.vehicle.speed_kmh,
                self.vehicle.course_deg,
                self.vehicle.now(),
            )
            master = self._master
            if master is None:  # stopped meanwhile
                return
            try:
                os.write(master, sentence)
                self.sentences_written += 1
            except BlockingIOError:  # nobody reads the port: a real GPS just keeps going
                self.sentences_dropped += 1
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
