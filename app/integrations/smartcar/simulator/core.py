"""Simulator configuration and the shared state every route handler works on."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from app.integrations.smartcar.simulator.specs import VehicleSpec, generate_fleet
from app.integrations.smartcar.simulator.state import SimVehicle
from app.integrations.smartcar.simulator.tokens import TokenStore
from app.integrations.smartcar.simulator.v3_model import V3Store

#: The eight permissions of the product text; used when a Connect URL carries no ``scope``.
DEFAULT_SCOPES = (
    "read_vehicle_info",
    "read_vin",
    "read_location",
    "read_odometer",
    "read_battery",
    "read_fuel",
    "read_security",
    "control_security",
)


@dataclass
class FaultSettings:
    """Faults applied to every vehicle request, on top of the per-login magic emails.

    ``error`` is a catalogued (type, code); it hits one request in ``every_nth`` (1 = all).
    ``delay_s`` holds each vehicle response back, to exercise client timeouts.
    """

    error: tuple[str, str | None] | None = None
    every_nth: int = 1
    delay_s: float = 0.0
    counter: int = 0

    def should_fail(self) -> bool:
        if self.error is None:
            return False
        self.counter += 1
        return self.counter % max(1, self.every_nth) == 0


@dataclass
class SimulatorConfig:
    """Everything the simulator needs; defaults give a 10-car demo on a free localhost port.

    ``api_latency_s`` holds every request under ``/vehicles/{id}`` back that long before it is
    answered, like the cloud, which reaches the car on each call (typically 3-45 s). A batch
    is one request and costs one latency: the cloud fans its items out in parallel. It is added
    to any fault delay. ``sleep`` is how the simulator waits; tests replace it to see the hold
    without waiting in real time.

    ``management_token`` is the Application Management Token: the HMAC key webhooks are
    signed with (``SC-Signature``, the VERIFY challenge), never an API bearer token.
    ``webhook_interval_s`` is how often the webhook engine looks for changed trigger signals
    (0 = never on its own: tests drive it with ``tick()``); ``webhook_retry_delays_s`` are
    the waits before each retry of a failed delivery (the cloud's 25/50/100 s).
    """

    host: str = "127.0.0.1"
    port: int = 0
    client_id: str = "sim-client-id"
    client_secret: str = field(default="sim-client-secret", repr=False)
    redirect_uris: tuple[str, ...] = ("http://localhost:8000/callback",)
    vehicles: list[VehicleSpec] | None = None
    vehicle_count: int = 10
    seed: int = 0
    clock: Callable[[], float] = time.time
    rate_limit_capacity: int = 120
    rate_limit_refill_per_s: float = 1.0
    max_body_bytes: int = 64 * 1024
    slow_delay_s: float = 30.0
    api_latency_s: float = 0.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    default_vehicles_per_login: int = 3
    faults: FaultSettings = field(default_factory=FaultSettings)
    management_token: str = field(default="sim-management-token", repr=False)
    webhook_interval_s: float = 5.0
    webhook_retry_delays_s: tuple[float, ...] = (25.0, 50.0, 100.0)


@dataclass
class ConnectSession:
    """One browser walk through the Connect pages, from authorize to the final redirect."""

    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    mode: str
    make: str | None
    single_select_vin: str | None
    expires_at: float
    email: str | None = None
    vehicle_ids: list[str] = field(default_factory=list)


class RateLimiter:
    """Per-vehicle token bucket; answers the seconds to wait (0 = allowed)."""

    def __init__(self, capacity: int, refill_per_s: float, clock: Callable[[], float]) -> None:
        self._capacity = float(capacity)
        self._refill = refill_per_s
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str) -> int:
        now = self._clock()
        tokens, at = self._buckets.get(key, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - at) * self._refill)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0
        self._buckets[key] = (tokens, now)
        return max(1, int((1.0 - tokens) / self._refill + 0.999))


class SimulatorState:
    """Fleet, OAuth artefacts, Connect sessions and limits, shared by all routes."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.clock = config.clock
        specs = config.vehicles
        if specs is None:
            specs = generate_fleet(config.vehicle_count, config.seed)
        now = self.clock()
        self.vehicles: dict[str, SimVehicle] = {}
        for spec in specs:
            vehicle = SimVehicle.from_spec(spec, now)
            self.vehicles[vehicle.vehicle_id] = vehicle
        self.by_vin = {v.spec.vin: v for v in self.vehicles.values()}
        self.tokens = TokenStore(self.clock)
        self.sessions: dict[str, ConnectSession] = {}
        self.limiter = RateLimiter(
            config.rate_limit_capacity, config.rate_limit_refill_per_s, self.clock
        )
        self.faults = config.faults
        self.v3 = V3Store(self.clock)

    def new_session(self, session: ConnectSession) -> str:
        now = self.clock()
        for key in [k for k, s in self.sessions.items() if s.expires_at <= now]:
            del self.sessions[key]
        sid = uuid.uuid4().hex
        self.sessions[sid] = session
        return sid

    def vehicles_for_login(self, email: str, make: str | None, vin: str | None) -> list[str]:
        """The selection rule documented in the package docstring."""
        if vin is not None:
            vehicle = self.by_vin.get(vin.upper())
            return [vehicle.vehicle_id] if vehicle else []
        login = email.strip().lower()
        owned = [
            v.vehicle_id
            for v in self.vehicles.values()
            if v.spec.owner_email and v.spec.owner_email.lower() == login
        ]
        if owned:
            return owned
        pool = [v for v in self.vehicles.values() if not v.spec.owner_email]
        of_make = [v for v in pool if v.spec.make == make]
        pool = of_make or pool
        if not pool:
            return []
        start = int.from_bytes(hashlib.sha256(login.encode()).digest()[:4], "big") % len(pool)
        count = min(self.config.default_vehicles_per_login, len(pool))
        return [pool[(start + i) % len(pool)].vehicle_id for i in range(count)]


SIM_KEY = web.AppKey("sim_state", SimulatorState)
