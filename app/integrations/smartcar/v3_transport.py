"""Authenticated V3 requests: the application token, ``sc-user-id`` and the V3 errors.

Shares the client's ``httpx`` connections, rate gate and answer checks with v2.0 (through
:class:`HttpTransport`). A 401 means the application token was refused (revoked secret,
clock skew): the token is dropped and the request sent once more with a new one, so one
stale token never turns into an error on screen; a second 401 is the real answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from app.integrations.smartcar.app_token import AppTokenSource
from app.integrations.smartcar.errors import ApplicationCredentialsError, AuthenticationError
from app.integrations.smartcar.transport import KEPT_HEADERS, HttpTransport, decode_json
from app.integrations.smartcar.v3_wire import v3_api_error
from app.integrations.smartcar.wire import RawResponse

logger = logging.getLogger(__name__)

Api = Literal["vehicle", "management"]


class V3Transport:
    """Sends V3 requests to the Vehicle API or the Management API with the app token."""

    def __init__(
        self,
        http: HttpTransport,
        tokens: AppTokenSource,
        *,
        vehicle_api: str,
        management_api: str,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self._origins = {"vehicle": vehicle_api.rstrip("/"), "management": management_api}

    async def request(
        self,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        api: Api = "vehicle",
    ) -> RawResponse:
        """``path`` starts after the host (``/v3/...``); ``user_id`` goes in ``sc-user-id``."""
        self.http.gate.check()
        token = await self.tokens.token()
        try:
            return await self._send(method, path, token, user_id, json, params, api)
        except AuthenticationError:
            self.tokens.invalidate(token)
            token = await self.tokens.token()
        try:
            return await self._send(method, path, token, user_id, json, params, api)
        except AuthenticationError as exc:
            raise ApplicationCredentialsError(
                f"Smartcar refused the application token twice ({exc.code or exc.type})"
            ) from exc

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        user_id: str | None,
        json: Any,
        params: Mapping[str, str | int] | None,
        api: Api,
    ) -> RawResponse:
        headers = {"Authorization": f"Bearer {token}"}
        if user_id is not None:
            headers["sc-user-id"] = user_id
        url = self._origins[api].rstrip("/") + path
        response = await self.http.send(method, url, headers=headers, json=json, params=params)
        kept = {k: v for k in KEPT_HEADERS if (v := response.headers.get(k)) is not None}
        if response.status_code == 204 or (response.is_success and not response.content):
            return RawResponse(response.status_code, None, kept)
        body = decode_json(response)
        if response.is_success:
            return RawResponse(response.status_code, body, kept)
        error = v3_api_error(response.status_code, body, kept)
        logger.info("Smartcar V3 %s %s failed: %s", method, path.split("?")[0], error)
        self.http.gate.hold(error)
        raise error
