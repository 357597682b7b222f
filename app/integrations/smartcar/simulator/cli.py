"""``python main.py simulator ...``: run the simulator alone until interrupted.

``main`` receives the arguments after ``simulator``. It prints one line
``Smartcar simulator listening on <url>`` (flushed) once the socket is bound, so scripts and
benchmarks that start it with ``--port 0`` can read the chosen port from stdout. With
``--webhook-url`` a second line ``Webhook <id> -> <url>`` follows once that receiver passed
VERIFY (the simulator exits with status 2 when it does not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal

from app.integrations.smartcar.simulator.core import SimulatorConfig
from app.integrations.smartcar.simulator.server import start_simulator
from app.integrations.smartcar.simulator.specs import generate_fleet

logger = logging.getLogger(__name__)

MANAGEMENT_TOKEN_ENV = "SMARTCAR_SIM_MANAGEMENT_TOKEN"

_EPILOG = f"""\
API V3 and webhooks: an outside tool gets an application token with
  POST /oauth2/token  grant_type=client_credentials&client_id=...&client_secret=...
and then either starts the simulator with --webhook-url URL (registered at start-up with
the default triggers, printed as "Webhook <id> -> <url>"), or registers one itself:
  POST /v3/webhooks       {{"data":{{"attributes":{{"name":"n","callbackUri":"URL"}}}}}}
  POST /v3/subscriptions  {{"data":{{"attributes":{{"webhookId":"<id>","vehicleId":"<id>"}}}}}}
both with "Authorization: Bearer <token>". The receiver must answer the VERIFY challenge with
200 {{"challenge": hex HMAC-SHA256(management token, challenge)}}; every delivery carries
SC-Signature = hex HMAC-SHA256(management token, raw body). The management token defaults to
${MANAGEMENT_TOKEN_ENV}, else "{SimulatorConfig.management_token}".
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simulator",
        description="Local Smartcar API simulator (v2.0, API V3, Management API V3, webhooks).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    p.add_argument(
        "--management-token",
        default=None,
        help="Application Management Token: the HMAC key of webhook signatures and the VERIFY "
        f"challenge, never a bearer token (default: ${MANAGEMENT_TOKEN_ENV}, else the demo "
        "token)",
    )
    p.add_argument(
        "--webhook-url",
        default=None,
        help="register a webhook for this callback URL at start-up (after VERIFY) with the "
        "default triggers and data; subscribe vehicles with POST /v3/subscriptions",
    )
    p.add_argument(
        "--webhook-interval-s",
        type=float,
        default=SimulatorConfig.webhook_interval_s,
        help="how often webhook rounds look for changed trigger signals (0 = only on "
        "POST /_sim/webhooks/tick)",
    )
    return p


async def _serve(config: SimulatorConfig, webhook_url: str | None) -> int:
    running = await start_simulator(config)
    # Signal handlers before the first line: a script may stop us as soon as it read it.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C raises instead
            loop.add_signal_handler(sig, stop.set)
    try:
        print(f"Smartcar simulator listening on {running.base_url}", flush=True)
        if webhook_url is not None:
            try:
                webhook_id = await running.register_webhook(webhook_url)
            except ValueError as exc:
                print(f"cannot register the webhook: {exc}", flush=True)
                return 2
            print(f"Webhook {webhook_id} -> {webhook_url}", flush=True)
        await stop.wait()
    finally:
        await running.stop()
    return 0


def main(argv: list[str]) -> int:
    """Parse ``argv`` (without the ``simulator`` word), serve, return the exit status."""
    args = _parser().parse_args(argv)
    if args.vehicles < 0 or not 0 <= args.port <= 65535 or not 0 <= args.api_latency_ms <= 600_000:
        print("--vehicles must be >= 0, --port 0-65535 and --api-latency-ms 0-600000")
        return 2
    if not 0 <= args.webhook_interval_s <= 3600:
        print("--webhook-interval-s must be 0-3600")
        return 2
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        client_id=args.client_id,
        vehicles=generate_fleet(args.vehicles, args.seed, owner_email=args.owner_email),
        rate_limit_capacity=args.rate_limit,
        api_latency_s=args.api_latency_ms / 1000,
        webhook_interval_s=args.webhook_interval_s,
    )
    management_token = args.management_token or os.environ.get(MANAGEMENT_TOKEN_ENV)
    if management_token:
        config.management_token = management_token
    if args.client_secret:
        config.client_secret = args.client_secret
    if args.redirect_uri:
        config.redirect_uris = tuple(args.redirect_uri)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(_serve(config, args.webhook_url))
    except OSError as exc:
        print(f"cannot start the simulator: {exc}")
        return 2
    except KeyboardInterrupt:
        pass
    return 0
