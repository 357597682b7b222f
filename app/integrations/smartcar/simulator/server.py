"""Start and stop the simulator inside an already running asyncio loop.

``AppRunner`` + ``TCPSite`` (rather than ``web.run_app``) so the app can host the simulator on
its qasync loop next to the GUI, and tests can host it on their own loop. Port 0 binds a free
port; :attr:`RunningSimulator.base_url` says which one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from app.integrations.smartcar.simulator import api, connect, control, oauth
from app.integrations.smartcar.simulator.core import SIM_KEY, SimulatorConfig, SimulatorState
from app.integrations.smartcar.simulator.responses import smartcar_shape_middleware

logger = logging.getLogger(__name__)


def build_app(config: SimulatorConfig) -> tuple[web.Application, SimulatorState]:
    """The aiohttp application with every route; exposed for tests that need the state."""
    app = web.Application(
        middlewares=[smartcar_shape_middleware], client_max_size=config.max_body_bytes
    )
    state = SimulatorState(config)
    app[SIM_KEY] = state
    connect.add_routes(app)
    oauth.add_routes(app)
    api.add_routes(app)
    control.add_routes(app)
    return app, state


@dataclass
class RunningSimulator:
    """Handle on a started simulator; ``base_url`` serves Connect, token and API alike."""

    base_url: str
    state: SimulatorState
    _runner: web.AppRunner

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    async def stop(self) -> None:
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
    return RunningSimulator(base_url, state, runner)
