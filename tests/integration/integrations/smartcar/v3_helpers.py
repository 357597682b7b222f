"""Shared steps for the API V3 tests: Connect for a user id, an application token, and a
webhook receiver on a real localhost socket that records raw bodies and checks signatures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from aiohttp import web

from app.integrations.smartcar.simulator import RunningSimulator
from tests.integration.integrations.smartcar.conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT
from tests.integration.integrations.smartcar.connect_walk import walk_connect
from tests.integration.integrations.smartcar.helpers import ALL_SCOPES

AMT = "sim-management-token"
TESLA_VIN, BMW_VIN, FORD_VIN = "5YJ3E1EA7KF000001", "WBA5R1C50KA000002", "1FADP3F20JL000003"


@dataclass
class Connected:
    """What the Connect redirect gave: the V3 user id and the v2 code."""

    user_id: str
    code: str


async def connect_user(
    sim: RunningSimulator,
    email: str = "owner@fleet.test",
    scopes: list[str] | None = None,
    **extra: str,
) -> Connected:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": " ".join(scopes or [*ALL_SCOPES, "control_charge"]),
        "state": "v3-state",
        "mode": "simulated",
        **extra,
    }
    url = f"{sim.base_url}/oauth/authorize?{urlencode(params)}"
    redirect = await asyncio.to_thread(walk_connect, url, email=email)
    query = parse_qs(urlsplit(redirect).query)
    assert query["state"] == ["v3-state"], redirect
    return Connected(query["user_id"][0], query["code"][0])


async def app_token(http: httpx.AsyncClient) -> str:
    answer = await http.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def auth(token: str, user_id: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if user_id is not None:
        headers["sc-user-id"] = user_id
    return headers


def vid(sim: RunningSimulator, vin: str) -> str:
    return sim.state.by_vin[vin].vehicle_id


def sign(raw: bytes, key: str = AMT) -> str:
    return hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def assert_envelope(answer: httpx.Response, status: int, type_: str, code: str | None) -> dict:
    """The V3 error envelope with JSON content type and a request id."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers.get("SC-Request-Id")
    errors = answer.json()["errors"]
    assert len(errors) == 1
    error = errors[0]
    assert set(error) == {"status", "type", "code", "title", "detail", "links", "resolution"}
    assert error["status"] == str(status)
    assert (error["type"], error["code"]) == (type_, code)
    assert error["title"] == (code or type_).replace("_", " ").title()
    assert error["links"]["about"].startswith("https://smartcar.com/docs/errors/api-errors/")
    assert "type" in error["resolution"]
    return dict(error)


@dataclass
class Received:
    path: str
    raw: bytes
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.raw))

    @property
    def signed_ok(self) -> bool:
        return hmac.compare_digest(self.headers.get("SC-Signature", ""), sign(self.raw))


@dataclass
class Receiver:
    """A webhook endpoint: answers VERIFY (keyed with ``amt``; rightly unless
    ``wrong_challenge``) and every
    other event with the next of ``statuses`` (200 once they run out)."""

    wrong_challenge: bool = False
    amt: str = AMT
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        async with self._changed:
            self.received.append(Received(request.path, raw, dict(request.headers)))
            self._changed.notify_all()
        body = json.loads(raw)
        if body.get("eventType") == "VERIFY":
            challenge = body["data"]["challenge"]
            answer = "0" * 64 if self.wrong_challenge else sign(challenge.encode(), self.amt)
            return web.json_response({"challenge": answer})
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def events(self, event_type: str | None = None) -> list[Received]:
        return [
            r for r in self.received if event_type is None or r.body.get("eventType") == event_type
        ]

    async def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 10) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)


async def register(
    http: httpx.AsyncClient, token: str, url: str, **attributes: Any
) -> httpx.Response:
    body = {"data": {"attributes": {"name": "Test hook", "callbackUri": url, **attributes}}}
    return await http.post("/v3/webhooks", json=body, headers=auth(token))


async def subscribe(
    http: httpx.AsyncClient, token: str, webhook_id: str, **attributes: str
) -> httpx.Response:
    body = {"data": {"attributes": {"webhookId": webhook_id, **attributes}}}
    return await http.post("/v3/subscriptions", json=body, headers=auth(token))
