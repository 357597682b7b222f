"""``python main.py iot-simulator``: run a simulated fleet against a running gateway."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from app.integrations.iot.gateway import DEFAULT_PORTS
from app.integrations.iot.simulator.fleet import default_fleet, start_device_simulator

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iot-simulator",
        description="Simulated scooters and e-bikes that connect to the IoT gateway over TCP "
        "and speak the real device protocols; plus one NMEA GPS on a pseudo-terminal.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="gateway host (default %(default)s)")
    for protocol, port in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--port-{protocol}",
            type=int,
            default=port,
            metavar="PORT",
            help=f"gateway port for {protocol} devices (default %(default)s)",
        )
    parser.add_argument("--devices", type=int, default=20, help="number of devices (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same fleet")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="report interval in seconds (default 10)"
    )
    parser.add_argument("--no-gps", action="store_true", help="do not create the NMEA GPS pty")
    parser.add_argument("--gps-link", type=Path, help="stable symlink to create for the GPS pty")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after N seconds (default: run until ^C)"
    )
    return parser


async def _run(args: argparse.Namespace) -> None:
    ports = {p: getattr(args, f"port_{p}") for p in DEFAULT_PORTS}
    specs = default_fleet(args.devices, seed=args.seed, report_interval=args.interval)
    sim = await start_device_simulator(
        ports, specs, args.host, seed=args.seed, nmea_gps=not args.no_gps, gps_link=args.gps_link
    )
    for spec in specs:
        print(f"{spec.protocol:10} {spec.kind:8} {spec.device_id}", flush=True)
    if sim.gps_path:
        print(f"NMEA GPS on {sim.gps_path}", flush=True)
    try:
        if args.duration > 0:
            await asyncio.sleep(args.duration)
        else:
            await asyncio.Event().wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.devices < 0 or args.interval <= 0:
        print("--devices must be >= 0 and --interval > 0")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0
