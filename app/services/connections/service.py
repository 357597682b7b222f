"""Connecting cars through Smartcar Connect and managing those connections (Qt-free).

The views drive it: :meth:`ConnectionService.begin` gives the Connect URL (its ``state`` binds
the attempt to the console vehicle), :meth:`complete` takes the redirect URL the web view or
the loopback listener caught, checks the state, exchanges the code and reads the cars the
grant covers; :meth:`link` stores the connection on the vehicle. Nothing here ever sees the
manufacturer login: that happens between the owner and Smartcar's pages.

A console on a shared database (``handoff`` given) holds no Smartcar secret: it builds the
Connect URL from public parts and checks the redirect's state, then :meth:`hand_off` asks
the collector to link the car, and :meth:`disconnect` asks it to disconnect
(:mod:`app.services.connections.handoff`). The collector's worker calls :meth:`carry_out`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urlsplit

from app.integrations.smartcar.auth import (
    connect_url,
    parse_connect_redirect,
    parse_v3_connect_redirect,
)
from app.integrations.smartcar.client import SmartcarClient
from app.integrations.smartcar.errors import (
    ConnectRedirectError,
    OAuthStateError,
    OAuthTokenError,
    SmartcarApiError,
    SmartcarError,
    SmartcarTransportError,
)
from app.integrations.smartcar.oauth_state import OAuthStateManager
from app.integrations.smartcar.scopes import REQUIRED_SCOPES, connect_scope_param
from app.listeners import Listeners
from app.models.connections import ConnectionRecord, ConnectionRepository
from app.models.database import Database
from app.models.enums import ConnectionStatus, ConnectionType
from app.models.vehicles import VehicleFields
from app.services.connections.backends import Backends
from app.services.connections.connect_results import (
    INCOMPATIBLE_REASONS,
    Authorization,
    CompatibilityReport,
    ConnectFailed,
    LinkPlan,
    SmartcarCar,
    VinInUse,
    VinMismatch,
    plan_link,
    redirect_message,
    short_error,
)
from app.services.connections.handoff import (
    DISCONNECT,
    DISCONNECTED,
    FAILED,
    LINKED,
    Claimed,
    HandoffClient,
    Outcome,
)
from app.services.connections.health import active_reason
from app.services.connections.subscriptions import WebhookSubscriptions
from app.services.connections.token_cipher import TokenCipher
from app.services.connections.tokens import (
    ConnectionProblem,
    ReconnectNeeded,
    SmartcarUnavailable,
    TokenKeeper,
    encrypt_pair,
)
from app.services.vehicles.service import VehicleInvalid, VehicleService

logger = logging.getLogger(__name__)


class ConnectionService:
    """Connect, link, refresh, disconnect; ``listeners`` hear the vehicle id of any change,
    ``connect_listeners`` only that of a vehicle Connect just linked."""

    def __init__(
        self,
        database: Database,
        vehicles: VehicleService,
        cipher: TokenCipher,
        backends: Backends,
        *,
        connect_mode: Literal["live", "simulated"] = "live",
        demo: bool = False,
        handoff: HandoffClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``handoff``: this is a console on a shared database, whose Connect and
        Disconnect the collector carries out (it holds no secret itself)."""
        self.repository = ConnectionRepository(database)
        self.cipher = cipher
        self.scopes: list[str] = connect_scope_param()
        #: Hear the vehicle id whenever one of its connections changed.
        self.changes: Listeners[[int]] = Listeners("connection changes")
        #: Hear the vehicle id once Connect linked it (the cron reads it at once).
        self.connects: Listeners[[int]] = Listeners("new connections")
        self._db = database
        self._vehicles = vehicles
        self._backends = backends
        self._mode = connect_mode
        self._demo = demo
        self._clock = clock
        self._handoff = handoff
        self._states = OAuthStateManager()
        self.tokens = TokenKeeper(
            database, self.repository, cipher, self._client, self.changes.notify, clock=clock
        )
        #: V3 connections' webhook subscriptions (inert in v2.0 or without a webhook).
        self.subscriptions = WebhookSubscriptions(
            database,
            self.repository,
            self._client,
            lambda: self._backends.webhook_id,
            self.changes.notify,
        )

    def _client(self) -> SmartcarClient | None:
        return self._backends.smartcar

    @property
    def hands_off(self) -> bool:
        """Connect and Disconnect go to the collector (a console on a shared database)."""
        return self._handoff is not None

    @property
    def available(self) -> bool:
        return self._client() is not None or (
            self._handoff is not None and self._backends.credentials is not None
        )

    @property
    def api_version(self) -> str:
        client = self._client()
        return client.api_version if client is not None else self._backends.api_version

    @property
    def redirect_uri(self) -> str | None:
        credentials = self._backends.credentials
        return credentials.redirect_uri if credentials else None

    # -- Connect ---------------------------------------------------------------------------

    async def check_compatibility(self, vin: str) -> CompatibilityReport:
        if self._handoff is not None:
            raise ConnectFailed(
                "The compatibility check needs the Smartcar application's secret, which on a "
                "shared database only the collector holds."
            )
        try:
            reading = await self.tokens.client().compatibility(vin, list(REQUIRED_SCOPES))
        except SmartcarError as exc:
            raise ConnectFailed(f"Could not check compatibility: {short_error(exc)}") from exc
        c = reading.value
        supported = {
            scope: all(cap.capable for cap in c.capabilities if cap.permission == scope)
            and any(cap.permission == scope for cap in c.capabilities)
            for scope in REQUIRED_SCOPES
        }
        reason = (
            INCOMPATIBLE_REASONS.get(c.reason or "", c.reason or "") if not c.compatible else ""
        )
        return CompatibilityReport(c.compatible, reason, supported)

    def begin(self, vehicle_id: int, vin: str | None) -> str:
        """The Connect URL for this vehicle; in demo mode it offers exactly the record's car."""
        single = vin if self._demo and vin else None
        client = self._client()
        backends = self._backends
        if client is None and self._handoff is not None and backends.credentials is not None:
            assert backends.origins is not None  # set with the credentials
            state = self._states.issue(vehicle_id)
            return connect_url(
                backends.origins,
                backends.credentials,
                self.scopes,
                state,
                mode=self._mode,
                single_select_vin=single,
            )
        client = self.tokens.client()
        state = self._states.issue(vehicle_id)
        return client.auth.connect_url(
            self.scopes, state, mode=self._mode, single_select_vin=single
        )

    def is_redirect(self, url: str) -> bool:
        """True for a navigation to the registered redirect URI (query ignored)."""
        target = self.redirect_uri
        if not target:
            return False
        a, b = urlsplit(url), urlsplit(target)
        return (a.scheme, a.hostname, a.port, a.path.rstrip("/")) == (
            b.scheme,
            b.hostname,
            b.port,
            b.path.rstrip("/"),
        )

    async def complete(self, redirect_url: str) -> Authorization:
        """State check, then the grant's cars: v2.0 exchanges the code for the grant's
        tokens, V3 lists the user's connections. Raises ConnectFailed."""
        self.tokens.client()  # Smartcar unavailable: raise before the state is consumed
        vehicle_id, answer = self._checked_redirect(redirect_url)
        return await self.authorize(vehicle_id, answer)

    def _checked_redirect(self, redirect_url: str) -> tuple[int, str]:
        """(vehicle id, V3 user id or v2.0 code) of a redirect whose state this console
        issued (each state is good once). Raises ConnectFailed."""
        v3 = self.api_version == "3"
        parse = parse_v3_connect_redirect if v3 else parse_connect_redirect
        try:
            answer, context = parse(redirect_url, self._states)
        except OAuthStateError as exc:
            logger.warning("Connect redirect refused: bad state")
            raise ConnectFailed(
                "The answer from Connect was not for this session (state mismatch); it was "
                "refused. Start Connect Car again."
            ) from exc
        except ConnectRedirectError as exc:
            logger.info("Connect ended with %s", exc.error)
            raise ConnectFailed(redirect_message(exc)) from exc
        assert isinstance(context, int)
        return context, answer

    async def authorize(self, vehicle_id: int, answer: str) -> Authorization:
        """The grant's cars from a checked redirect's answer (V3 user id, v2.0 code)."""
        client = self.tokens.client()
        if client.api_version == "3":
            return await self._complete_v3(client, vehicle_id, answer)
        try:
            tokens = await client.auth.exchange_code(answer)
            user = (await client.get_user(tokens.access_token)).value.id
            ids = await client.all_vehicle_ids(tokens.access_token)
            cars = tuple([await self._describe(client, i, tokens.access_token) for i in ids])
        except OAuthTokenError as exc:
            raise ConnectFailed(f"Smartcar refused the authorization ({exc.error}).") from exc
        except SmartcarTransportError as exc:
            raise ConnectFailed("Smartcar could not be reached (network problem).") from exc
        except SmartcarError as exc:
            raise ConnectFailed(f"Reading the connected cars failed: {short_error(exc)}") from exc
        if not cars:
            raise ConnectFailed("The authorization covers no cars.")
        return Authorization(vehicle_id, tokens, user, cars)

    async def _complete_v3(
        self, client: SmartcarClient, vehicle_id: int, user_id: str
    ) -> Authorization:
        """The V3 user's connections: permissions and make/model/year come with them,
        the VIN is a signal (read only where ``read_vin`` was granted)."""
        try:
            connections = await client.v3.connections(user_id=user_id)
            cars = []
            for c in connections:
                vin = None
                if "read_vin" in c.permissions:
                    vin = (await client.vin(c.vehicle_id, user_id)).value.vin.upper()
                cars.append(SmartcarCar(c.vehicle_id, c.make, c.model, c.year, vin, c.permissions))
        except SmartcarTransportError as exc:
            raise ConnectFailed("Smartcar could not be reached (network problem).") from exc
        except SmartcarError as exc:
            raise ConnectFailed(f"Reading the connected cars failed: {short_error(exc)}") from exc
        if not cars:
            raise ConnectFailed("The authorization covers no cars.")
        logger.info("Connect (V3): user's grant covers %d car(s)", len(cars))
        return Authorization(vehicle_id, None, user_id, tuple(cars))

    async def _describe(self, client: SmartcarClient, car_id: str, token: str) -> SmartcarCar:
        scopes = (await client.permissions(car_id, token, limit=100)).value.permissions
        make, model, year, vin = "", "", None, None
        if "read_vehicle_info" in scopes:
            a = (await client.attributes(car_id, token)).value
            make, model, year = a.make, a.model, a.year
        if "read_vin" in scopes:
            vin = (await client.vin(car_id, token)).value.vin.upper()
        return SmartcarCar(car_id, make, model, year, vin, tuple(scopes))

    async def hand_off(self, redirect_url: str) -> ConnectionRecord:
        """A shared console's Connect: check the redirect's state here, let the collector
        read the grant and link the car, return the connection it made. Raises
        ConnectFailed with the collector's reason."""
        assert self._handoff is not None, "only a console on a shared database hands off"
        vehicle_id, answer = self._checked_redirect(redirect_url)
        outcome = await self._handoff.connect(vehicle_id, self.api_version, answer)
        record = None
        if outcome.state == LINKED and outcome.connection_id is not None:
            record = await self._db.run(self.repository.get, outcome.connection_id)
        if record is None:
            raise ConnectFailed(outcome.error or f"The collector reported {outcome.state}.")
        self.changes.notify(vehicle_id)
        self.connects.notify(vehicle_id)
        return record

    async def carry_out(self, request: Claimed) -> Outcome:
        """The collector's side of a console's request: what a standalone console's
        Connect (or Disconnect) does, with the grant's one match linked."""
        if request.action == DISCONNECT:
            return await self._carry_out_disconnect(request)
        client = self._client()
        if client is None:
            return Outcome(FAILED, "Smartcar is not configured on the collector.")
        if request.api_version != client.api_version:
            return Outcome(
                FAILED,
                f"The console used Smartcar API {request.api_version}, the collector "
                f"{client.api_version}; set the same smartcar.api_version on both.",
            )
        answer = request.user_id if client.api_version == "3" else request.code
        if not answer:
            return Outcome(FAILED, "The request carries no Connect answer.")
        try:
            auth = await self.authorize(request.vehicle_id, answer)
            plan = await self.plan(auth)
            if plan.match is None:
                cars = "; ".join(c.label for c in auth.cars)
                return Outcome(
                    FAILED,
                    f"The account has several cars ({cars}) and none has this vehicle's VIN. "
                    "Enter the VIN on the vehicle, then connect again.",
                )
            record = await self.link(auth, plan.match)
        except VinMismatch as exc:
            return Outcome(FAILED, f"{exc} Correct the vehicle's VIN, then connect again.")
        except (ConnectFailed, VinInUse) as exc:
            return Outcome(FAILED, str(exc))
        return Outcome(LINKED, connection_id=record.id)

    async def _carry_out_disconnect(self, request: Claimed) -> Outcome:
        record = None
        if request.connection_id is not None:
            record = await self._db.run(self.repository.get, request.connection_id)
        if record is None or record.vehicle_id != request.vehicle_id:
            return Outcome(FAILED, "That connection does not belong to this vehicle.")
        try:
            await self.disconnect(record.id)
        except (ConnectionProblem, SmartcarError) as exc:
            return Outcome(FAILED, short_error(exc))
        return Outcome(DISCONNECTED, connection_id=record.id)

    async def plan(self, auth: Authorization) -> LinkPlan:
        vehicle = await self._db.run(self.repository.vehicle, auth.vehicle_id)
        return plan_link(vehicle.vin if vehicle else None, auth.cars)

    async def link(
        self,
        auth: Authorization,
        car: SmartcarCar,
        vehicle_id: int | None = None,
        *,
        accept_vin: bool = False,
    ) -> ConnectionRecord:
        """Store the connection on the vehicle; VIN conflicts raise unless ``accept_vin``."""
        vehicle_id = auth.vehicle_id if vehicle_id is None else vehicle_id
        vehicle = await self._db.run(self.repository.vehicle, vehicle_id)
        if vehicle is None:
            raise ConnectFailed("The vehicle no longer exists.")
        if vehicle.vin and car.vin and vehicle.vin != car.vin and not accept_vin:
            raise VinMismatch(vehicle.vin, car.vin)
        if car.vin:
            owner = await self._db.run(self.repository.vehicle_by_vin, car.vin)
            if owner is not None and owner.id != vehicle_id:
                raise VinInUse(
                    f"VIN {car.vin} already belongs to {owner.name} [{owner.fleet_number}]."
                )
        make = vehicle.make if vehicle.make.lower() == car.make.lower() else car.make
        identity = (
            make or vehicle.make,
            car.model or vehicle.model,
            car.year or vehicle.year,
            car.vin or vehicle.vin,
        )
        connection_id = await self._db.run(
            lambda: self.repository.save_link(
                vehicle_id,
                smartcar_vehicle_id=car.smartcar_id,
                smartcar_user_id=auth.user_id,
                scopes=list(car.scopes),
                tokens=encrypt_pair(self.cipher, auth.tokens) if auth.tokens else None,
                status=ConnectionStatus.ACTIVE.value,
                reason=active_reason(car.scopes),
                now=self._clock(),
                identity=identity,
            )
        )
        logger.info("vehicle %d linked to Smartcar (connection %d)", vehicle_id, connection_id)
        record = await self._db.run(self.repository.get, connection_id)
        assert record is not None
        if record.v3:
            await self.subscriptions.subscribe(record)
            record = await self._db.run(self.repository.get, connection_id)
            assert record is not None
        self.changes.notify(vehicle_id)
        self.connects.notify(vehicle_id)
        return record

    async def add_as_new_vehicles(self, auth: Authorization, cars: list[SmartcarCar]) -> list[int]:
        """Link the grant's other cars too: to the vehicle with their VIN, else a new one."""
        linked: list[int] = []
        for car in cars:
            existing = (
                await self._db.run(self.repository.vehicle_by_vin, car.vin) if car.vin else None
            )
            if existing:
                vehicle_id = existing.id
            else:
                suffix = (car.vin or car.smartcar_id)[-6:].upper()
                fields = VehicleFields(
                    name=f"{car.make} {car.model}".strip() or "Smartcar car",
                    fleet_number=f"SC-{suffix}",
                    kind="car",
                    make=car.make,
                    model=car.model,
                    year=car.year,
                    vin=car.vin,
                    connection_type=ConnectionType.SMARTCAR.value,
                )
                try:
                    vehicle_id = await self._vehicles.add(fields)
                except VehicleInvalid as exc:
                    raise ConnectFailed(f"Could not add {car.label}: {exc}") from exc
            await self.link(auth, car, vehicle_id)
            linked.append(vehicle_id)
        return linked

    # -- managing --------------------------------------------------------------------------

    async def connection_for(self, vehicle_id: int) -> ConnectionRecord | None:
        return await self._db.run(self.repository.latest_for_vehicle, vehicle_id)

    async def all_connections(self) -> list[ConnectionRecord]:
        return await self._db.run(self.repository.latest_per_vehicle)

    async def connections_with_tokens(self, statuses: tuple[str, ...]) -> list[ConnectionRecord]:
        return await self._db.run(self.repository.with_tokens, statuses)

    async def refresh_now(self, connection_id: int) -> ConnectionRecord:
        """Re-read attributes and permissions; updates last sync and the permission list.

        Raises ConnectionProblem (plain-language) or SmartcarError when the read fails; the
        connection's status has been updated either way.
        """

        async def read(car_id: str, token: str) -> tuple[str, ...]:
            client = self.tokens.client()
            scopes = (await client.permissions(car_id, token, limit=100)).value.permissions
            if "read_vehicle_info" in scopes:
                await client.attributes(car_id, token)
            return scopes

        scopes = await self.tokens.call(connection_id, read)
        record = await self._db.run(self.repository.get, connection_id)
        assert record is not None
        await self._db.run(
            self.repository.mark_synced,
            connection_id,
            self._clock(),
            list(scopes),
            ConnectionStatus.ACTIVE.value,
            active_reason(scopes),
        )
        self.changes.notify(record.vehicle_id)
        updated = await self._db.run(self.repository.get, connection_id)
        assert updated is not None
        return updated

    async def refresh_many(
        self, connection_ids: list[int], concurrency: int = 8
    ) -> dict[int, str | None]:
        """Bulk Refresh: connection id → None (ok) or the operator-facing failure."""
        gate = asyncio.Semaphore(concurrency)

        async def one(connection_id: int) -> str | None:
            async with gate:
                try:
                    await self.refresh_now(connection_id)
                except (ConnectionProblem, SmartcarError) as exc:
                    return short_error(exc)
                return None

        results = await asyncio.gather(*(one(i) for i in connection_ids))
        return dict(zip(connection_ids, results, strict=True))

    async def disconnect(self, connection_id: int) -> None:
        """Revoke at Smartcar, wipe the tokens, keep the row and all vehicle history.

        If the grant is already dead (expired, revoked) there is nothing to revoke and the
        local wipe goes ahead; an unreachable Smartcar leaves everything as it was.
        """
        record = await self._db.run(self.repository.get, connection_id)
        if record is None:
            return
        if self._handoff is not None:
            outcome = await self._handoff.disconnect(
                record.vehicle_id, connection_id, record.api_version
            )
            if outcome.state != DISCONNECTED:
                raise ConnectionProblem(outcome.error or f"the collector reported {outcome.state}")
            self.changes.notify(record.vehicle_id)
            return
        await self.subscriptions.unsubscribe(record)
        if record.can_call:
            try:
                await self.tokens.call(
                    connection_id, lambda car, token: self.tokens.client().disconnect(car, token)
                )
            except (ReconnectNeeded, ConnectionProblem) as exc:
                if isinstance(exc, SmartcarUnavailable):
                    raise
                logger.info("disconnect: grant already unusable (%s)", type(exc).__name__)
            except SmartcarApiError as exc:
                if exc.status >= 500:
                    raise ConnectionProblem(
                        f"Smartcar did not disconnect: {short_error(exc)}"
                    ) from exc
            except SmartcarError as exc:
                raise SmartcarUnavailable(
                    "Smartcar could not be reached; nothing was changed. Try again."
                ) from exc
        await self._db.run(
            self.repository.disconnect, connection_id, "Disconnected by an operator."
        )
        logger.info("connection %d disconnected", connection_id)
        self.changes.notify(record.vehicle_id)
