"""A fault proxy: a real aiohttp server on 127.0.0.1 in front of the real Smartcar simulator.

Every request the client sends passes through it. A fault is decided per request by
``decide(kind, vehicle_id, n)`` (kind ``batch``, ``api`` or ``token``; ``n`` counts that
vehicle's requests, so a seeded schedule gives each car the same faults whatever order
concurrent polls arrive in) and is
served INSTEAD of forwarding: a faulted request never reaches the simulator, as when the
network or Smartcar's edge fails, so a refresh token is never rotated behind the client's
back and everything the simulator answered reached the client.

Like Smartcar, the proxy enforces the limits it announced: after a per-car 429 that car's
requests, and after an app-wide ``RATE_LIMIT:SMARTCAR_API`` every API request, are refused
until Retry-After has passed, and each refused request is counted (``car_window_hits``,
``app_window_hits``) so a test can prove the client held back. Time is the test's clock.

It records what the simulator served: every 200 batch answer per vehicle (``served``).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from app.integrations.smartcar.transport import MAX_BODY_BYTES

FAULT_KINDS = (
    "car_429",
    "app_429",
    "server_500",
    "upstream_502",
    "reset",
    "hang",
    "asleep",
    "deep_json",
)
#: Token-endpoint faults: only those that cannot have rotated the refresh token.
TOKEN_FAULT_KINDS = ("server_500", "reset", "hang", "deep_json")
_ERRORS = {
    "car_429": (429, "RATE_LIMIT", "VEHICLE"),
    "app_429": (429, "RATE_LIMIT", "SMARTCAR_API"),
    "server_500": (500, "SERVER", "INTERNAL"),
    "upstream_502": (502, "UPSTREAM", "NO_RESPONSE"),
    "asleep": (409, "VEHICLE_STATE", "ASLEEP"),
}
_DEPTH = MAX_BODY_BYTES // 4  # half a megabyte of "[" then of "]": far too deep, under the cap
DEEP_JSON = b"[" * _DEPTH + b"]" * _DEPTH

Decide = Callable[[str, str | None, int], str | None]


@dataclass(frozen=True)
class Served:
    at: float
    values: dict[str, Any]  # batch path -> body, for the items the simulator answered 200


@dataclass
class FaultProxy:
    upstream: str
    clock: Callable[[], float]
    decide: Decide = lambda _kind, _vehicle, _n: None
    hang_s: float = 1.5
    retry_after_s: Callable[[str, random.Random], int] = lambda _kind, rng: rng.randint(60, 600)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    served: dict[str, list[Served]] = field(default_factory=lambda: defaultdict(list))
    faults: list[tuple[float, str | None, str]] = field(default_factory=list)
    app_windows: list[tuple[float, float]] = field(default_factory=list)
    app_window_hits: list[int] = field(default_factory=list)  # per window
    car_window_hits: int = 0
    forwarded: int = 0
    forwarded_kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _car_until: dict[str, float] = field(default_factory=dict)
    _app_until: float = 0.0
    _runner: web.AppRunner | None = None
    _http: httpx.AsyncClient | None = None
    base_url: str = ""

    async def start(self) -> str:
        self._http = httpx.AsyncClient(base_url=self.upstream, timeout=30.0)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.aclose()

    # -- the handler -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        now = self.clock()
        vehicle = _vehicle_of(path)
        if path.startswith("/v2.0/"):
            if now < self._app_until:
                self.app_window_hits[-1] += 1
                return _error(429, "RATE_LIMIT", "SMARTCAR_API", self._app_until - now)
            if vehicle is not None and now < self._car_until.get(vehicle, 0.0):
                self.car_window_hits += 1
                return _error(429, "RATE_LIMIT", "VEHICLE", self._car_until[vehicle] - now)
            kind = "batch" if path.endswith("/batch") else "api"
        elif path.endswith("/oauth/token"):
            kind = "token"
        else:
            return await self._forward(request, None)  # Connect pages: never faulted
        key = vehicle or kind
        n = self._counts[key]
        self._counts[key] += 1
        fault = self.decide(kind, vehicle, n)
        if fault is None:
            self.forwarded_kinds[kind] += 1
            return await self._forward(request, vehicle if kind == "batch" else None)
        self.faults.append((now, vehicle, fault))
        return await self._fault(request, fault, vehicle, now)

    async def _fault(
        self, request: web.Request, fault: str, vehicle: str | None, now: float
    ) -> web.StreamResponse:
        if fault == "reset":
            assert request.transport is not None
            request.transport.abort()  # the client sees the connection drop mid-request
            return web.Response()  # never written: the transport is gone
        if fault == "hang":
            await asyncio.sleep(self.hang_s)  # longer than the client's timeout (real time)
            return _error(504, "SERVER", "TIMEOUT", None)
        if fault == "deep_json":
            return web.Response(body=DEEP_JSON, content_type="application/json")
        status, type_, code = _ERRORS[fault]
        wait = self.retry_after_s(fault, self.rng) if status == 429 else None
        if fault == "app_429":
            assert wait is not None
            self._app_until = now + wait
            self.app_windows.append((now, now + wait))
            self.app_window_hits.append(0)
        elif fault == "car_429" and vehicle is not None:
            assert wait is not None
            self._car_until[vehicle] = now + wait
        return _error(status, type_, code, wait)

    async def _forward(self, request: web.Request, batch_of: str | None) -> web.StreamResponse:
        assert self._http is not None
        self.forwarded += 1
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "transfer-encoding")
        }
        answer = await self._http.request(
            request.method,
            request.path_qs,
            headers=headers,
            content=await request.read(),
        )
        if batch_of is not None and answer.status_code == 200:
            items = json.loads(answer.content).get("responses", [])
            values = {i["path"]: i["body"] for i in items if i.get("code") == 200}
            self.served[batch_of].append(Served(self.clock(), values))
        kept = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
        }
        return web.Response(status=answer.status_code, body=answer.content, headers=kept)


def _vehicle_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "vehicles" else None


def _error(status: int, type_: str, code: str, retry_after: float | None) -> web.Response:
    body = {
        "type": type_,
        "code": code,
        "description": f"fault proxy: {type_}:{code}",
        "statusCode": status,
        "requestId": "fault-proxy",
        "resolution": {"type": "RETRY_LATER"},
        "docURL": None,
    }
    headers = {} if retry_after is None else {"Retry-After": str(max(1, round(retry_after)))}
    return web.json_response(body, status=status, headers=headers)


def seeded_schedule(seed: int, rate: float, enabled: Callable[[], bool]) -> Decide:
    """Faults drawn from FAULT_KINDS with probability ``rate`` while ``enabled()``; the
    draw for a vehicle's n-th request depends only on (seed, vehicle, n)."""

    def decide(kind: str, vehicle: str | None, n: int) -> str | None:
        if not enabled():
            return None
        rng = random.Random(f"{seed}:{kind}:{vehicle}:{n}")
        if rng.random() >= rate:
            return None
        return rng.choice(TOKEN_FAULT_KINDS if kind == "token" else FAULT_KINDS)

    return decide
