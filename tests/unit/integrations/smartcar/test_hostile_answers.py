"""Answers built to hurt: JSON nested a million levels deep, absurd or dated Retry-After.

respx stands in for a server that misbehaves on purpose; the real simulator behind a fault
proxy runs the same faults in ``tests/integration/services/telemetry/test_cron_under_faults.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import pytest_asyncio
import respx

from app.integrations.smartcar import DataKind, SmartcarClient, SmartcarCredentials, SmartcarOrigins
from app.integrations.smartcar.errors import RateLimitError, SmartcarProtocolError
from app.integrations.smartcar.transport import MAX_BODY_BYTES, MAX_JSON_DEPTH
from app.integrations.smartcar.wire import MAX_RETRY_AFTER_S, retry_after_s

API = "https://api.test"
TOKEN_URL = "https://auth.test/t"
ORIGINS = SmartcarOrigins(connect="https://connect.test", token_url=TOKEN_URL, api=API)
VID = "36ab27d0-fd9d-4455-823a-ce30af709ffc"
URL = f"{API}/v2.0/vehicles/{VID}"
# 2 MB of brackets minus a little: under the size cap, a million levels deep.
DEEP = b"[" * (MAX_BODY_BYTES // 2 - 10) + b"]" * (MAX_BODY_BYTES // 2 - 10)


def _deep_response(status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=DEEP, headers={"content-type": "application/json"})


@pytest_asyncio.fixture
async def client() -> AsyncIterator[SmartcarClient]:
    async with SmartcarClient(ORIGINS, SmartcarCredentials("id", "secret", "app://cb")) as c:
        yield c


@pytest.mark.asyncio
@respx.mock
async def test_deep_json_is_a_protocol_error_on_every_path(client: SmartcarClient) -> None:
    respx.get(f"{URL}/vin").mock(return_value=_deep_response())
    respx.post(f"{URL}/batch").mock(return_value=_deep_response())
    respx.post(TOKEN_URL).mock(return_value=_deep_response())
    respx.get(f"{URL}/odometer").mock(return_value=_deep_response(500))
    calls = [
        client.vin(VID, "tok"),
        client.read_snapshot(VID, "tok", [DataKind.LOCATION]),
        client.auth.exchange_code("code"),
        client.auth.refresh("refresh"),
        client.odometer(VID, "tok"),
    ]
    for call in calls:
        with pytest.raises(SmartcarProtocolError, match="nested deeper"):
            await call


@pytest.mark.asyncio
@respx.mock
async def test_json_just_too_deep_for_the_limit_is_refused(client: SmartcarClient) -> None:
    """Shallow enough for the parser, still over our limit: refused by the depth check."""
    nested: object = {"vin": "x"}
    for _ in range(MAX_JSON_DEPTH):
        nested = {"a": nested}
    respx.get(f"{URL}/vin").mock(return_value=httpx.Response(200, json=nested))
    with pytest.raises(SmartcarProtocolError, match="nested deeper"):
        await client.vin(VID, "tok")


def _limited(retry_after: str, **headers: str) -> httpx.Response:
    body = {"type": "RATE_LIMIT", "code": "VEHICLE", "description": "slow down"}
    return httpx.Response(429, json=body, headers={"Retry-After": retry_after, **headers})


@pytest.mark.asyncio
@respx.mock
@pytest.mark.parametrize(
    ("header", "extra", "expected"),
    [
        ("999999999", {}, MAX_RETRY_AFTER_S),
        ("120", {}, 120),
        (
            "Thu, 03 Dec 2026 10:02:00 GMT",
            {"Date": "Thu, 03 Dec 2026 10:00:00 GMT"},
            120,
        ),
        ("Thu, 03 Dec 2099 10:00:00 GMT", {"Date": "Thu, 03 Dec 2026 10:00:00 GMT"}, 3600),
        ("Thu, 03 Dec 2026 09:00:00 GMT", {"Date": "Thu, 03 Dec 2026 10:00:00 GMT"}, 0),
        ("soon", {}, None),
    ],
)
async def test_retry_after_is_capped_and_read_in_both_forms(
    client: SmartcarClient, header: str, extra: dict[str, str], expected: int | None
) -> None:
    respx.get(f"{URL}/odometer").mock(return_value=_limited(header, **extra))
    with pytest.raises(RateLimitError) as caught:
        await client.odometer(VID, "tok")
    assert caught.value.retry_after == expected


def test_an_http_date_without_a_date_header_counts_from_now() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    assert 590 <= (retry_after_s(soon) or 0) <= 600
