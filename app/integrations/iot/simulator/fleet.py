"""A simulated fleet: many devices on TCP plus one NMEA GPS on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stdnum import luhn

from app.integrations.iot.simulator.device import SimDevice, SimDeviceSpec
from app.integrations.iot.simulator.gps import SimGps

# The vendor mix of a typical mixed fleet: Omni locks on most scooters, OKAI-style
# Queclink trackers, Teltonika TST100 retrofits, GT06 trackers on e-bikes, JT/T 808
# terminals, Segway IoT modules on their own TCP protocol and OKAI ZK IoT.
FLEET_MIX: tuple[tuple[str, str], ...] = (
    ("omni", "scooter"),
    ("gl200", "scooter"),
    ("teltonika", "scooter"),
    ("gt06", "ebike"),
    ("jt808", "scooter"),
    ("segway", "scooter"),
    ("okai", "scooter"),
)


def imei_for(index: int, seed: int = 0) -> str:
    """A stable IMEI for simulated device ``index``, with its Luhn check digit: the
    console refuses an IMEI whose check digit is wrong, so a simulated device the operator
    adds from the unknown-devices list must have a real one."""
    first_14 = f"86{seed % 1000:03d}{index:09d}"
    return first_14 + luhn.calc_check_digit(first_14)


def default_fleet(
    count: int,
    *,
    seed: int = 0,
    report_interval: float = 10.0,
    protocols: tuple[str, ...] | None = None,
) -> list[SimDeviceSpec]:
    """``count`` devices cycling through ``FLEET_MIX`` (or only ``protocols``)."""
    mix = [m for m in FLEET_MIX if protocols is None or m[0] in protocols]
    return [
        SimDeviceSpec(
            imei_for(i, seed), mix[i % len(mix)][0], mix[i % len(mix)][1], report_interval
        )
        for i in range(count)
    ]


@dataclass
class RunningDeviceSim:
    """Handle on a running simulation: its devices, the GPS pty, and ``stop``."""

    devices: dict[str, SimDevice]
    gps: SimGps | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def gps_path(self) -> str | None:
        """Where the simulated GPS can be opened (a pty, or the stable symlink to it)."""
        return self.gps.path if self.gps is not None else None

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until every device has a live connection."""
        await asyncio.wait_for(
            asyncio.gather(*(d.connected.wait() for d in self.devices.values())), timeout
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.gps is not None:
            await self.gps.stop()


async def start_device_simulator(
    gateway_ports: Mapping[str, int],
    devices: list[SimDeviceSpec],
    host: str = "127.0.0.1",
    *,
    seed: int = 0,
    nmea_gps: bool = True,
    gps_interval: float = 1.0,
    gps_link: Path | None = None,
    reconnect_initial: float = 0.2,
    reconnect_max: float = 10.0,
) -> RunningDeviceSim:
    """Start every device (and the GPS pty) and return at once; devices connect on their own.

    A device whose protocol has no port in ``gateway_ports`` is a configuration error
    (KeyError), not a silently idle vehicle.
    """
    rng = random.Random(seed)
    sims: dict[str, SimDevice] = {}
    for spec in devices:
        port = gateway_ports[spec.protocol]
        sims[spec.device_id] = SimDevice(
            spec,
            host,
            port,
            random.Random(rng.random()),
            reconnect_initial=reconnect_initial,
            reconnect_max=reconnect_max,
        )
    running = RunningDeviceSim(sims)
    if nmea_gps:
        running.gps = SimGps(random.Random(rng.random()), interval=gps_interval, link=gps_link)
        running.gps.start()
    running._tasks = [
        asyncio.create_task(sim.run(), name=f"sim-{device_id}") for device_id, sim in sims.items()
    ]
    return running
