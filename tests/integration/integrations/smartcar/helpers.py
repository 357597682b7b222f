"""Shared steps for the integration tests: connect a login and get its token pair."""

from __future__ import annotations

import asyncio

from app.integrations.smartcar import (
    OAuthStateManager,
    SmartcarClient,
    TokenSet,
    connect_scope_param,
    parse_connect_redirect,
)
from tests.integration.integrations.smartcar.connect_walk import walk_connect

ALL_SCOPES = [*connect_scope_param(), "read_charge"]


async def connect_code(
    client: SmartcarClient,
    email: str = "owner@fleet.test",
    scopes: list[str] | None = None,
    **url_options: str,
) -> str:
    """Walk Connect in a worker thread (sync HTTP) while the simulator serves on this loop;
    returns the authorization code after checking the state round trip."""
    states = OAuthStateManager()
    state = states.issue("ctx")
    url = client.auth.connect_url(scopes or ALL_SCOPES, state, mode="simulated", **url_options)
    redirect = await asyncio.to_thread(walk_connect, url, email=email)
    code, context = parse_connect_redirect(redirect, states)
    assert context == "ctx"
    return code


async def connect(
    client: SmartcarClient,
    email: str = "owner@fleet.test",
    scopes: list[str] | None = None,
    **url_options: str,
) -> TokenSet:
    """Connect and exchange the code for a token pair."""
    code = await connect_code(client, email, scopes, **url_options)
    return await client.auth.exchange_code(code)
