"""The outside services one console talks to, started for its mode.

Demo mode runs the Smartcar simulator in-process on a free localhost port, loaded with the
demo fleet's cars, and points the one SmartcarClient at it; live mode points the same
client at the real Smartcar cloud. Everything above (Connect, the telemetry cron) uses
``Backends.smartcar`` and never knows which of the two it talks to.
"""

from __future__ import annotations

import logging
import os
import secrets
import zlib
from dataclasses import dataclass, field
from typing import cast

from app.config import MANAGEMENT_TOKEN_ENV, SECRET_ENV, Settings
from app.integrations.smartcar.client import SmartcarClient
from app.integrations.smartcar.config import SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.simulator import (
    RunningSimulator,
    SimulatorConfig,
    VehicleSpec,
    start_simulator,
)
from app.integrations.smartcar.simulator.specs import Powertrain
from app.services.vehicles.demo_fleet import DemoVehicle, demo_fleet

logger = logging.getLogger(__name__)

DEMO_CLIENT_ID = "fleet-console-demo"
DEMO_OWNER_EMAIL = "fleet@demo.levyfleets.test"
#: How often the demo simulator looks for changed cars to push (Smartcar: on change).
DEMO_WEBHOOK_INTERVAL_S = 5.0


def simulator_specs(fleet: list[DemoVehicle]) -> list[VehicleSpec]:
    """The demo fleet's cars as the Smartcar simulator's vehicles (same VINs)."""
    return [
        VehicleSpec(
            vin=v.fields.vin,
            make=v.fields.make,
            model=v.fields.model,
            year=v.fields.year,
            powertrain=cast(Powertrain, v.fields.powertrain or "ice"),
            lat=v.latitude,
            lon=v.longitude,
            odometer_km=float(5_000 + zlib.crc32(v.fields.vin.encode()) % 80_000),
            owner_email=DEMO_OWNER_EMAIL,
        )
        for v in fleet
        if v.fields.kind == "car" and v.fields.vin and v.fields.year  # every demo car has both
    ]


@dataclass
class Backends:
    """The Smartcar endpoint in use, and the simulator behind it in demo mode.

    ``management_token`` (the webhook signing key) and ``webhook_id`` are set only for a
    V3 application whose process receives webhooks; demo mode makes up the token per run
    and registers the webhook with the simulator once the receiver listens.
    """

    credentials: SmartcarCredentials | None = None
    origins: SmartcarOrigins | None = None
    smartcar: SmartcarClient | None = None
    simulator: RunningSimulator | None = None
    problems: list[str] = field(default_factory=list)
    management_token: str | None = field(default=None, repr=False)
    webhook_id: str | None = None
    #: The Smartcar API this process speaks (settings ``smartcar.api_version``).
    api_version: str = "3"
    #: A console on a shared database: ``credentials`` hold the public parts only (no
    #: client secret), there is no client, and the collector does what needs the secret.
    connect_only: bool = False

    @property
    def smartcar_available(self) -> bool:
        return self.smartcar is not None

    async def aclose(self) -> None:
        if self.smartcar is not None:
            await self.smartcar.aclose()
        if self.simulator is not None:
            await self.simulator.stop()


async def start_backends(
    settings: Settings, *, demo: bool, offline: bool, shared_console: bool = False
) -> Backends:
    """Start what the mode needs; a failure is recorded in ``problems``, never raised.

    The console must open even when Smartcar cannot be reached; the status bar then
    tells the operator why connecting cars is unavailable. A console on a shared database
    (``shared_console``) never reads the client secret or the management token: its
    Connect needs only the public client id, the collector does the rest (issue #18).
    """
    backends = Backends(api_version=settings.smartcar.api_version)
    if offline:
        return backends
    redirect_uri = settings.smartcar.redirect_uri
    if shared_console:
        return _connect_only(settings, backends)
    try:
        if demo:
            # A fresh secret and management token per run: neither is ever stored.
            secret = secrets.token_urlsafe(24)
            cars = simulator_specs(demo_fleet(settings.demo))
            backends.management_token = secrets.token_urlsafe(24)
            backends.simulator = await start_simulator(
                SimulatorConfig(
                    client_id=DEMO_CLIENT_ID,
                    client_secret=secret,
                    redirect_uris=(redirect_uri,),
                    vehicles=cars,
                    seed=settings.demo.seed,
                    management_token=backends.management_token,
                    webhook_interval_s=DEMO_WEBHOOK_INTERVAL_S,
                )
            )
            backends.origins = SmartcarOrigins.for_simulator(backends.simulator.base_url)
            backends.credentials = SmartcarCredentials(DEMO_CLIENT_ID, secret, redirect_uri)
            logger.info(
                "demo: Smartcar simulator with %d cars on %s", len(cars), backends.origins.api
            )
        elif settings.live:
            sc = settings.smartcar
            backends.origins = _origins(settings)
            backends.credentials = SmartcarCredentials(
                sc.client_id, os.environ[SECRET_ENV], redirect_uri, sc.application_id
            )
            backends.management_token = os.environ.get(MANAGEMENT_TOKEN_ENV) or None
            backends.webhook_id = sc.webhooks.webhook_id or None
        else:
            backends.problems.append("Smartcar is not configured (see README, 'Live mode')")
            return backends
        backends.smartcar = SmartcarClient(
            backends.origins, backends.credentials, api_version=settings.smartcar.api_version
        )
    except OSError as exc:
        logger.exception("could not start the Smartcar backend")
        backends.problems.append(f"Smartcar unavailable: {exc}")
    return backends


def _origins(settings: Settings) -> SmartcarOrigins:
    sc = settings.smartcar
    return SmartcarOrigins(
        connect=sc.connect_origin,
        token_url=f"{sc.auth_origin.rstrip('/')}/oauth/token",
        api=sc.api_origin,
        iam_token_url=sc.iam_token_url,
        vehicle_api=sc.vehicle_api_origin,
        management_api=sc.management_api_origin,
    )


def _connect_only(settings: Settings, backends: Backends) -> Backends:
    """A shared console's Smartcar: the Connect URL's public parts, nothing secret."""
    sc = settings.smartcar
    backends.connect_only = True
    if not sc.client_id:
        backends.problems.append("Smartcar is not configured (see README, 'Live mode')")
        return backends
    backends.origins = _origins(settings)
    backends.credentials = SmartcarCredentials(sc.client_id, "", sc.redirect_uri, sc.application_id)
    logger.info("shared console: Connect hands its result to the collector (no secret here)")
    return backends
