"""The system-browser fallback's one-shot redirect listener on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from app.services.connections.loopback import LoopbackError, LoopbackListener
from tests.unit.services.connections.conftest import free_port


@pytest.mark.asyncio
async def test_listener_catches_the_redirect_on_the_uri_port() -> None:
    port = free_port()
    listener = LoopbackListener(f"http://127.0.0.1:{port}/sc/callback")
    await listener.start()
    listener.expect_state_of("http://connect.test/oauth/authorize?client_id=x&state=s1")
    try:
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{port}/sc/callback?code=c1&state=s1")
            assert page.status_code == 200 and "close this tab" in page.text
            assert (await http.get(f"http://127.0.0.1:{port}/elsewhere")).status_code == 404
        url = await listener.wait()
        assert url.endswith("/sc/callback?code=c1&state=s1")
    finally:
        await listener.stop()


@pytest.mark.asyncio
async def test_ephemeral_port_when_the_uri_names_none_and_busy_port_is_reported() -> None:
    listener = LoopbackListener("http://localhost/cb")
    await listener.start()
    try:
        port = int(listener.redirect_uri.rsplit(":", 1)[1].split("/")[0])
        assert port > 0 and listener.redirect_uri.endswith("/cb")
        busy = LoopbackListener(f"http://127.0.0.1:{port}/cb")
        with pytest.raises(LoopbackError, match="in use"):
            await busy.start()
    finally:
        await listener.stop()


def test_only_loopback_http_redirects_are_accepted() -> None:
    with pytest.raises(LoopbackError):
        LoopbackListener("https://example.com/callback")


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.connections.loopback",
    r"loopback redirect listener: refused a request without our st",
)
async def test_forged_or_stateless_requests_get_400_and_the_real_redirect_still_lands() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/smartcar/callback"
    listener = LoopbackListener(base)
    await listener.start()
    listener.expect_state_of("http://connect.test/oauth/authorize?state=the-real-one&mode=test")
    try:
        async with httpx.AsyncClient() as http:
            for forged in ("?state=x&code=evil", "?code=evil", "", "?state=the-real-on"):
                answer = await http.get(base + forged)
                assert answer.status_code == 400 and "Not accepted" in answer.text
            page = await http.get(f"{base}?code=good&state=the-real-one")
            assert page.status_code == 200 and "close this tab" in page.text
        url = await listener.wait()
        assert url.endswith("?code=good&state=the-real-one") and listener.refused == 4
    finally:
        await listener.stop()


@pytest.mark.asyncio
async def test_no_right_answer_ends_in_a_clear_timeout() -> None:
    listener = LoopbackListener(f"http://127.0.0.1:{free_port()}/cb")
    await listener.start()
    listener.expect_state_of("http://connect.test/?state=s")
    try:
        with pytest.raises(LoopbackError, match="No answer from the browser"):
            await listener.wait(timeout_s=0.05)
    finally:
        await listener.stop()
