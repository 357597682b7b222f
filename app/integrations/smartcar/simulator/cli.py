"""``python main.py simulator ...``: run the simulator alone until interrupted.

``main`` receives the arguments after ``simulator``. It prints one line
``Smartcar simulator listening on <url>`` (flushed) once the socket is bound, so scripts and
benchmarks that start it with ``--port 0`` can read the chosen port from stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from app.integrations.smartcar.simulator.core import SimulatorConfig
from app.integrations.smartcar.simulator.server import start_simulator
from app.integrations.smartcar.simulator.specs import generate_fleet

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simulator", description="Local Smartcar API simulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--client-id", default=SimulatorConfig.client_id)
    p.add_argument("--client-secret", default=None, help="default: the built-in demo secret")
    p.add_argument(
        "--redirect-uri", action="append", default=None, help="registered redirect URI (repeat)"
    )
    p.add_argument("--vehicles", type=int, default=10, help="number of generated vehicles")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--owner-email", default=None, help="login that owns every generated vehicle")
    p.add_argument("--rate-limit", type=int, default=120, help="per-vehicle request burst")
    p.add_argument(
        "--api-latency-ms",
        type=float,
        default=0.0,
        help="hold every vehicle request (a batch counts once) this long, like the cloud",
    )
    return p


async def _serve(config: SimulatorConfig) -> None:
    running = await start_simulator(config)
    print(f"Smartcar simulator listening on {running.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C raises instead
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await running.stop()


def main(argv: list[str]) -> int:
    """Parse ``argv`` (without the ``simulator`` word), serve, return the exit status."""
    args = _parser().parse_args(argv)
    if args.vehicles < 0 or not 0 <= args.port <= 65535 or not 0 <= args.api_latency_ms <= 600_000:
        print("--vehicles must be >= 0, --port 0-65535 and --api-latency-ms 0-600000")
        return 2
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        vehicles=generate_fleet(args.vehicles, args.seed, owner_email=args.owner_email),
        rate_limit_capacity=args.rate_limit,
        api_latency_s=args.api_latency_ms / 1000,
    )
    if args.client_secret:
        config.client_secret = args.client_secret
    if args.redirect_uri:
        config.redirect_uris = tuple(args.redirect_uri)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(config))
    except OSError as exc:
        print(f"cannot start the simulator: {exc}")
        return 2
    except KeyboardInterrupt:
        pass
    return 0
