"""Connect URL, OAuth state, redirect errors, token expiries and the refresh manager."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
import respx

from app.integrations.smartcar import (
    OAuthStateManager,
    SmartcarClient,
    SmartcarCredentials,
    SmartcarOrigins,
    TokenManager,
    TokenSet,
    connect_scope_param,
    parse_connect_redirect,
)
from app.integrations.smartcar.auth import CONNECT_ERROR_MESSAGES
from app.integrations.smartcar.errors import (
    ConnectRedirectError,
    OAuthStateError,
    TokenPersistError,
)

ORIGINS = SmartcarOrigins(
    connect="https://c.test", token_url="https://a.test/oauth/token", api="https://api.test"
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[SmartcarClient]:
    creds = SmartcarCredentials("cid", "top-secret", "http://localhost/cb")
    async with SmartcarClient(ORIGINS, creds) as c:
        yield c


def test_connect_url_carries_scopes_state_mode_and_vin(client: SmartcarClient) -> None:
    url = client.auth.connect_url(
        connect_scope_param(),
        "st",
        mode="simulated",
        make="tesla",
        single_select_vin="5YJ3E1EA7KF000001",
    )
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert url.startswith("https://c.test/oauth/authorize?")
    scopes = q["scope"].split(" ")
    assert scopes[:8] == [
        f"required:{s}"
        for s in (
            "read_vehicle_info",
            "read_vin",
            "read_location",
            "read_odometer",
            "read_battery",
            "read_fuel",
            "read_security",
            "control_security",
        )
    ]
    assert scopes[8:] == ["read_tires", "read_engine_oil", "read_charge"]
    assert (q["state"], q["mode"], q["single_select"], q["single_select_vin"]) == (
        "st",
        "simulated",
        "true",
        "5YJ3E1EA7KF000001",
    )
    assert "make" not in q  # single_select_vin wins over make
    by_make = parse_qs(urlsplit(client.auth.connect_url(["read_vin"], "s", make="kia")).query)
    assert by_make["make"] == ["KIA"] and by_make["mode"] == ["live"]


def test_secrets_stay_out_of_reprs() -> None:
    creds = SmartcarCredentials("cid", "top-secret", "cb")
    tokens = TokenSet("acc-123", "ref-456", T0, T0)
    assert "top-secret" not in repr(creds)
    assert "acc-123" not in repr(tokens) and "ref-456" not in repr(tokens)


def test_state_manager_single_use_and_expiry() -> None:
    now = [0.0]
    states = OAuthStateManager(ttl_s=60, clock=lambda: now[0])
    a, b = states.issue("car-a"), states.issue("car-b")
    assert a != b and len(a) >= 40
    assert states.consume(b) == "car-b"
    with pytest.raises(OAuthStateError):
        states.consume(b)
    with pytest.raises(OAuthStateError):
        states.consume("forged")
    with pytest.raises(OAuthStateError):
        states.consume("")
    now[0] = 61
    with pytest.raises(OAuthStateError, match="expired"):
        states.consume(a)


@pytest.mark.parametrize("error", sorted(CONNECT_ERROR_MESSAGES))
def test_redirect_errors_have_operator_messages(error: str) -> None:
    states = OAuthStateManager()
    state = states.issue()
    url = f"app://cb?error={error}&error_description=Nope&state={state}&vin=1FA"
    with pytest.raises(ConnectRedirectError) as caught:
        parse_connect_redirect(url, states)
    assert caught.value.error == error and caught.value.description == "Nope"
    assert caught.value.operator_message == CONNECT_ERROR_MESSAGES[error]
    assert caught.value.extra == {"vin": "1FA"}


def test_redirect_state_checked_before_anything_else() -> None:
    states = OAuthStateManager()
    with pytest.raises(OAuthStateError):
        parse_connect_redirect("app://cb?code=abc&state=never-issued", states)
    state = states.issue({"vehicle": 7})
    assert parse_connect_redirect(f"app://cb?code=abc&state={state}", states) == (
        "abc",
        {"vehicle": 7},
    )
    other = states.issue()
    with pytest.raises(ConnectRedirectError, match="missing_code"):
        parse_connect_redirect(f"app://cb?state={other}", states)


def test_token_expiries_computed_from_receipt_time() -> None:
    tokens = TokenSet.from_response(
        {"access_token": "a", "refresh_token": "r", "expires_in": 7200}, T0
    )
    assert tokens.expires_at == T0 + timedelta(hours=2)
    assert tokens.refresh_expires_at == T0 + timedelta(days=60)
    assert tokens.access_valid(T0 + timedelta(minutes=100), margin=timedelta(minutes=5))
    assert not tokens.access_valid(T0 + timedelta(minutes=116), margin=timedelta(minutes=5))
    assert tokens.refresh_valid(T0 + timedelta(days=59))
    assert not tokens.refresh_valid(T0 + timedelta(days=60))


def _token_json(n: int) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "access_token": f"a{n}",
            "refresh_token": f"r{n}",
            "token_type": "Bearer",
            "expires_in": 7200,
        },
    )


@pytest.mark.asyncio
@respx.mock
async def test_manager_refreshes_once_and_persists_before_use(client: SmartcarClient) -> None:
    calls = iter(range(1, 100))
    route = respx.post("https://a.test/oauth/token").mock(
        side_effect=lambda request: _token_json(next(calls))
    )
    old = TokenSet("a0", "r0", T0 - timedelta(hours=1), T0 + timedelta(days=1))
    persisted: list[str] = []
    gate = asyncio.Event()

    async def persist(tokens: TokenSet) -> None:
        await gate.wait()  # slow storage: nobody may use the new pair before this returns
        persisted.append(tokens.refresh_token)

    manager = TokenManager(client.auth, old, persist, clock=lambda: T0)
    waiters = [asyncio.create_task(manager.access_token()) for _ in range(5)]
    while route.call_count == 0:
        await asyncio.sleep(0)
    assert not any(t.done() for t in waiters)
    gate.set()
    assert await asyncio.gather(*waiters) == ["a1"] * 5
    assert route.call_count == 1 and persisted == ["r1"]
    assert b"refresh_token=r0" in route.calls.last.request.content


@pytest.mark.asyncio
@respx.mock
@pytest.mark.expect_log(
    "app.integrations.smartcar.token_manager",
    r"could not persist refreshed Smartcar tokens: OSError",
    level="ERROR",
)
async def test_manager_keeps_new_pair_when_persist_fails(client: SmartcarClient) -> None:
    respx.post("https://a.test/oauth/token").mock(return_value=_token_json(9))
    old = TokenSet("a0", "r0", T0, T0 + timedelta(days=1))

    async def broken(tokens: TokenSet) -> None:
        raise OSError("disk full")

    manager = TokenManager(client.auth, old, broken, clock=lambda: T0)
    with pytest.raises(TokenPersistError):
        await manager.access_token()
    assert manager.tokens.refresh_token == "r9"  # never fall back to the dead r0
