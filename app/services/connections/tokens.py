"""Valid access tokens for stored connections, and what API failures do to a connection.

Smartcar rotates the refresh token on every refresh and the old one dies right after, so
a refresh must never run twice at once for the same pair and the new pair is saved before
anyone uses it. One Connect grant covering several cars stores the same pair on each car's
row, so the lock is per grant (the Smartcar user id; a connection without one locks alone)
and a rotated pair is written to every row holding the old one, in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn, TypeVar

from app.integrations.smartcar.auth import TokenSet
from app.integrations.smartcar.client import SmartcarClient
from app.integrations.smartcar.errors import (
    ApplicationCredentialsError,
    AuthenticationError,
    ConnectedServicesAccountError,
    OAuthTokenError,
    RateLimitError,
    ResourceNotFoundError,
    ServerError,
    SmartcarApiError,
    SmartcarError,
    SmartcarTransportError,
    UpstreamError,
)
from app.models.connections import ConnectionRecord, ConnectionRepository, EncryptedTokens
from app.models.database import Database
from app.models.enums import ConnectionStatus
from app.models.token_lock import LockedGrant, TokenRowLock
from app.services.connections.health import RECONNECT_NEEDED, REVOKED, active_reason
from app.services.connections.token_cipher import TokenCipher, TokenDecryptError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Changed = Callable[[int], None]


class ConnectionProblem(Exception):
    """A connection cannot serve a request; ``str(exc)`` is fit for the operator."""


class NotConnected(ConnectionProblem):
    """No live connection (never connected, disconnected, or tokens wiped)."""


class ReconnectNeeded(ConnectionProblem):
    """The refresh token lapsed or was refused (``invalid_grant``): status Expired."""


class VehicleRevoked(ConnectionProblem):
    """The API refused the car even with fresh tokens: access revoked, status Disconnected."""


class SmartcarUnavailable(ConnectionProblem):
    """Smartcar is not configured or could not be reached."""


def encrypt_pair(cipher: TokenCipher, tokens: TokenSet) -> EncryptedTokens:
    return EncryptedTokens(
        cipher.encrypt(tokens.access_token),
        cipher.encrypt(tokens.refresh_token),
        tokens.expires_at,
        tokens.refresh_expires_at,
    )


class TokenKeeper:
    """Hands out valid access tokens and runs API calls with the 401 → refresh → retry rule."""

    def __init__(
        self,
        database: Database,
        repository: ConnectionRepository,
        cipher: TokenCipher,
        client: Callable[[], SmartcarClient | None],
        notify: Changed,
        *,
        margin: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = database
        self._repo = repository
        self._cipher = cipher
        self._client = client
        self._notify = notify
        self._margin = margin
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        # Other processes on a shared PostgreSQL database: a row lock (issue 8).
        self._row_lock = TokenRowLock(database)

    def client(self) -> SmartcarClient:
        client = self._client()
        if client is None:
            raise SmartcarUnavailable("Smartcar is not available (see the status bar).")
        return client

    def lock_for(self, record: ConnectionRecord) -> asyncio.Lock:
        key = f"user:{record.smartcar_user_id}" if record.smartcar_user_id else f"c:{record.id}"
        return self._locks.setdefault(key, asyncio.Lock())

    async def record(self, connection_id: int) -> ConnectionRecord:
        record = await self._db.run(self._repo.get, connection_id)
        if record is None or not record.can_call:
            reason = record.status_reason if record else ""
            raise NotConnected(reason or "This car is not connected to Smartcar.")
        return record

    async def access_token(
        self, connection_id: int, *, stale: str | None = None, lead: timedelta | None = None
    ) -> str:
        """A token valid for at least ``lead`` (default: the margin), refreshing if needed.

        ``stale`` is a token the API just refused: unless another task already replaced it,
        a refresh is forced.
        """
        record = await self.record(connection_id)
        if record.v3:  # no token pair: the user id names the grant, the app token is the client's
            if not record.smartcar_user_id:
                raise NotConnected("This V3 connection has no Smartcar user id; reconnect it.")
            return record.smartcar_user_id
        async with self.lock_for(record):
            stored = await self._db.run(self._repo.tokens, connection_id)
            if stored is None:
                raise NotConnected("This car is not connected to Smartcar.")
            access = self._decrypt(record, stored.access)
            now = self._clock()
            if self._usable(stored, access, stale, lead, now):
                return access
            async with self._row_lock.hold(connection_id) as locked:
                if locked is not None:
                    # Another process may have refreshed while this one waited for the lock.
                    stored = await locked.tokens(connection_id)
                    if stored is None:
                        raise NotConnected("This car is not connected to Smartcar.")
                    access = self._decrypt(record, stored.access)
                    if access != stale and self._usable(stored, access, None, lead, now):
                        return access
                return await self._refresh(record, stored, now, locked)

    def _usable(
        self,
        stored: EncryptedTokens,
        access: str,
        stale: str | None,
        lead: timedelta | None,
        now: datetime,
    ) -> bool:
        fresh_enough = stored.access_expires_at - (lead or self._margin) > now
        return (stale is None and fresh_enough) or (stale is not None and access != stale)

    async def _refresh(
        self,
        record: ConnectionRecord,
        stored: EncryptedTokens,
        now: datetime,
        locked: LockedGrant | None = None,
    ) -> str:
        if stored.refresh_expires_at <= now:
            await self._set(
                record,
                ConnectionStatus.EXPIRED,
                RECONNECT_NEEDED,
                "refresh token expired",
                locked,
            )
            raise ReconnectNeeded(RECONNECT_NEEDED)
        old_refresh = self._decrypt(record, stored.refresh)
        try:
            fresh = await self.client().auth.refresh(old_refresh)
        except OAuthTokenError as exc:
            if exc.error == "invalid_grant":
                await self._set(
                    record, ConnectionStatus.EXPIRED, RECONNECT_NEEDED, exc.error, locked
                )
                raise ReconnectNeeded(RECONNECT_NEEDED) from exc
            reason = f"Smartcar refused to renew access ({exc.error}); check the app settings."
            await self._set(record, ConnectionStatus.ERROR, reason, exc.error, locked)
            raise ConnectionProblem(reason) from exc
        except SmartcarError as exc:
            reason = "Could not reach Smartcar to renew access; will retry automatically."
            await self._set(record, ConnectionStatus.ERROR, reason, type(exc).__name__, locked)
            raise SmartcarUnavailable(reason) from exc
        sharing = [record.id]
        for other, blob in (await self._db.run(self._repo.sibling_tokens, record.id)).items():
            try:
                if self._cipher.decrypt(blob) == old_refresh:
                    sharing.append(other)
            except TokenDecryptError:
                continue
        pair = encrypt_pair(self._cipher, fresh)
        if locked is not None:
            await locked.store(sharing, pair)
        else:
            await self._db.run(self._repo.store_tokens, sharing, pair)
        logger.info(
            "refreshed Smartcar tokens of connection %d (%d sharing)", record.id, len(sharing)
        )
        if record.status == ConnectionStatus.ERROR.value:
            await self._set(
                record, ConnectionStatus.ACTIVE, active_reason(record.granted_scopes), "", locked
            )
        return fresh.access_token

    def _decrypt(self, record: ConnectionRecord, blob: bytes) -> str:
        try:
            return self._cipher.decrypt(blob)
        except TokenDecryptError as exc:
            raise ReconnectNeeded(str(exc)) from exc

    async def call(self, connection_id: int, fn: Callable[[str, str], Awaitable[T]]) -> T:
        """``await fn(smartcar_vehicle_id, access_token)`` with the connection's health rules.

        v2.0: a 401 forces one refresh and one retry; a second 401 means the owner revoked
        access (Disconnected). V3 (the credential is the user id): the client has already
        renewed a refused application token; a 404 for the car means its connection is
        gone (Disconnected). Outages and account problems move the connection to Error;
        success after an Error brings it back to Active.
        """
        record = await self.record(connection_id)
        token = await self.access_token(connection_id)
        try:
            try:
                result = await fn(record.smartcar_vehicle_id, token)
            except AuthenticationError:
                # v2.0 only: V3's transport turns a second 401 into ApplicationCredentialsError
                token = await self.access_token(connection_id, stale=token)
                result = await fn(record.smartcar_vehicle_id, token)
        except AuthenticationError as exc:
            await self._revoke(record, exc)
        except ResourceNotFoundError as exc:
            if record.v3 and exc.code != "PATH":  # V3: the car's connection is gone
                await self._revoke(record, exc)
            await self._api_failure(record, exc)
            raise
        except SmartcarError as exc:
            await self._api_failure(record, exc)
            raise
        if record.status == ConnectionStatus.ERROR.value:
            await self._set(
                record, ConnectionStatus.ACTIVE, active_reason(record.granted_scopes), ""
            )
        return result

    async def _revoke(self, record: ConnectionRecord, exc: SmartcarApiError) -> NoReturn:
        await self._db.run(self._repo.disconnect, record.id, REVOKED)
        self._notify(record.vehicle_id)
        logger.warning("connection %d revoked (%s)", record.id, exc.type)
        raise VehicleRevoked(REVOKED) from exc

    async def _api_failure(self, record: ConnectionRecord, exc: SmartcarError) -> None:
        if isinstance(exc, ApplicationCredentialsError):
            reason = (
                "Smartcar refused this application's credentials (client id or secret): "
                "check the Smartcar settings."
            )
        elif isinstance(exc, ConnectedServicesAccountError):
            reason = f"The owner must fix their manufacturer account: {exc.description}"
        elif isinstance(exc, ServerError | UpstreamError):
            reason = f"Smartcar or the manufacturer is having an outage ({exc.code or exc.type})."
        elif isinstance(exc, SmartcarTransportError):
            reason = "Smartcar could not be reached (network problem)."
        else:
            # Rate limits, asleep cars, missing capability: this request failed, the
            # connection itself is fine. Keep the status, remember the error.
            label = f"{exc.type}:{exc.code}" if isinstance(exc, SmartcarApiError) else str(exc)
            if isinstance(exc, RateLimitError) and exc.retry_after:
                label += f" (retry after {exc.retry_after} s)"
            await self._db.run(
                self._repo.set_status, record.id, record.status, record.status_reason, error=label
            )
            self._notify(record.vehicle_id)
            return
        await self._set(record, ConnectionStatus.ERROR, reason, type(exc).__name__)

    async def _set(
        self,
        record: ConnectionRecord,
        status: ConnectionStatus,
        reason: str,
        error: str,
        locked: LockedGrant | None = None,
    ) -> None:
        if locked is not None:  # the row is locked: a write on another connection would hang
            await locked.set_status(record.id, status.value, reason, error)
        else:
            await self._db.run(self._repo.set_status, record.id, status.value, reason, error=error)
        self._notify(record.vehicle_id)
