"""Start and stop the simulator inside an already running asyncio loop.

``AppRunner`` + ``TCPSite`` (rather than ``web.run_app``) so the app can host the simulator on
its qasync loop next to the GUI, and tests can host it on their own loop. Port 0 binds a free
port; :attr:`RunningSimulator.base_url` says which one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from app.integrations.smartcar.simulator import (
    api,
    connect,
    control,
    management,
    oauth,
    v3_api,
    v3_auth,
    v3_control,
)
from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorConfig, SimulatorState
from app.integrations.smartcar.simulator.responses import smartcar_shape_middleware
from app.integrations.smartcar.simulator.webhook_delivery import WEBHOOKS_KEY, WebhookEngine

logger = logging.getLogger(__name__)


def build_app(config: SimulatorConfig) -> tuple[web.Application, SimulatorState]:
    """The aiohttp application with every route; exposed for tests that need the state."""
    app = web.Application(
        middlewares=[smartcar_shape_middleware], client_max_size=config.max_body_bytes
    )
    state = SimulatorState(config)
    app[SIM_KEY] = state
    app[WEBHOOKS_KEY] = WebhookEngine(state)
    connect.add_routes(app)
    oauth.add_routes(app)
    v3_auth.add_routes(app)
    api.add_routes(app)
    v3_api.add_routes(app)
    management.add_routes(app)
    control.add_routes(app)
    v3_control.add_routes(app)
    return app, state


@dataclass
class RunningSimulator:
    """Handle on a started simulator; ``base_url`` serves Connect, tokens, API v2.0, API V3
    and the Management API alike. ``webhooks`` is its delivery engine (``await
    running.webhooks.tick()`` runs one round)."""

    base_url: str
    state: SimulatorState
    _runner: web.AppRunner
    webhooks: WebhookEngine

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def app_token_url(self) -> str:
        """The V3 client-credentials endpoint (``iam.smartcar.com/oauth2/token`` stand-in)."""
        return f"{self.base_url}/oauth2/token"

    async def register_webhook(self, url: str, name: str = "Simulator webhook") -> str:
        """What ``--webhook-url`` does: VERIFY ``url`` and register a webhook with the
        default triggers and data; answers its id (ValueError when VERIFY failed)."""
        webhook = management.parse_webhook_attributes(
            {"name": name, "callbackUri": url}, self.state.clock()
        )
        problem = await management.register_webhook(self.state, self._runner.app, webhook)
        if problem is not None:
            raise ValueError(f"webhook verification failed: {problem}")
        return webhook.id

    async def stop(self) -> None:
        await self.webhooks.stop()
        await self._runner.cleanup()
        logger.info("Smartcar simulator on %s stopped", self.base_url)


async def start_simulator(config: SimulatorConfig | None = None) -> RunningSimulator:
    """Bind and serve on the current loop; returns once the socket is listening."""
    config = config or SimulatorConfig()
    app, state = build_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    port = runner.addresses[0][1]
    base_url = f"http://{config.host}:{port}"
    logger.info("Smartcar simulator serving %d vehicles on %s", len(state.vehicles), base_url)
    return RunningSimulator(base_url, state, runner, app[WEBHOOKS_KEY])
