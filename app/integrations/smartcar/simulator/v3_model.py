"""The records API V3 adds to the simulator: connections, webhooks and subscriptions.

Plain data plus the bookkeeping rules (reuse a connection on reconnect, cascade a removed
user to its subscriptions), with no HTTP in sight, so the Connect pages, the V3 routes, the
management routes and the webhook engine all change the same state the same way and the rules
can be unit-tested without a server.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def iso_z(ts: float) -> str:
    """Epoch seconds as the ISO-8601 UTC form with milliseconds V3 uses (``...123Z``)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Connection:
    """One user's approval of one vehicle: what ``GET /v3/connections`` lists.

    ``fault``/``slow`` carry the magic-login behaviour of the Connect session that made it,
    so an application token reaching the car through this connection fails (or lags) the
    same way the v2 per-vehicle token of that session does.
    """

    id: str
    user_id: str
    vehicle_id: str
    scopes: frozenset[str]
    created_at: float
    updated_at: float
    fault: tuple[str, str | None] | None = None
    slow: bool = False


@dataclass(frozen=True)
class SignalRef:
    """A signal as webhooks name it (``triggers``/``data`` entries)."""

    code: str
    name: str
    group: str

    def as_json(self) -> dict[str, str]:
        return {"group": self.group, "name": self.name, "code": self.code}


@dataclass
class Webhook:
    """A registered callback; only enabled (VERIFY answered) webhooks are ever stored."""

    id: str
    name: str
    callback_uri: str
    triggers: list[SignalRef]
    data: list[SignalRef]
    error_callback_uri: str | None
    auto_subscribe: bool
    created_at: float
    enabled: bool = True


@dataclass
class Subscription:
    """A vehicle (of one user) delivered to one webhook.

    ``first_delivered`` is False until the FIRST_DELIVERY event succeeded (or was given up);
    ``last_triggers`` holds the trigger signal bodies of the last delivered event, which the
    engine compares against to decide whether anything changed.
    """

    id: str
    webhook_id: str
    vehicle_id: str
    user_id: str
    created_at: float
    updated_at: float
    first_delivered: bool = False
    last_triggers: dict[str, object] = field(default_factory=dict)


class SubscriptionExists(Exception):
    """The webhook already delivers this vehicle (the API answers 409)."""


@dataclass
class V3Store:
    """Connections, webhooks and subscriptions, keyed by their ids; ``clock`` is epoch s."""

    clock: Callable[[], float]
    connections: dict[str, Connection] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    # -- connections -------------------------------------------------------------------

    def connect(
        self,
        user_id: str,
        vehicle_id: str,
        scopes: frozenset[str],
        *,
        fault: tuple[str, str | None] | None = None,
        slow: bool = False,
    ) -> Connection:
        """Record an approval; reconnecting the same user and vehicle updates the existing
        connection (new scopes, same id and ``createdAt``), as Smartcar keeps one per pair."""
        now = self.clock()
        existing = self.connection_for(user_id, vehicle_id)
        if existing is not None:
            existing.scopes, existing.updated_at = scopes, now
            existing.fault, existing.slow = fault, slow
            return existing
        conn = Connection(str(uuid.uuid4()), user_id, vehicle_id, scopes, now, now, fault, slow)
        self.connections[conn.id] = conn
        for webhook in self.webhooks.values():
            if webhook.auto_subscribe:
                with contextlib.suppress(SubscriptionExists):
                    self.subscribe(webhook.id, conn)
        return conn

    def connection_for(self, user_id: str, vehicle_id: str) -> Connection | None:
        for conn in self.connections.values():
            if conn.user_id == user_id and conn.vehicle_id == vehicle_id:
                return conn
        return None

    def newest_connection_of_vehicle(self, vehicle_id: str) -> Connection | None:
        found = [c for c in self.connections.values() if c.vehicle_id == vehicle_id]
        return max(found, key=lambda c: c.created_at) if found else None

    def list_connections(
        self, user_id: str | None = None, vehicle_id: str | None = None
    ) -> list[Connection]:
        """Newest first, like the real list ("sorted by connection date")."""
        found = [
            c
            for c in self.connections.values()
            if (user_id is None or c.user_id == user_id)
            and (vehicle_id is None or c.vehicle_id == vehicle_id)
        ]
        # dict order breaks ties: later insertion = newer
        order = {cid: n for n, cid in enumerate(self.connections)}
        return sorted(found, key=lambda c: (c.created_at, order[c.id]), reverse=True)

    def remove_connection(self, connection_id: str) -> bool:
        """Drop one connection and the subscriptions that delivered its vehicle to its user."""
        conn = self.connections.pop(connection_id, None)
        if conn is None:
            return False
        self._drop_subscriptions(
            lambda s: s.user_id == conn.user_id and s.vehicle_id == conn.vehicle_id
        )
        return True

    def remove_user(self, user_id: str) -> int:
        """Drop every connection and subscription of a user; answers how many connections."""
        gone = [cid for cid, c in self.connections.items() if c.user_id == user_id]
        for cid in gone:
            del self.connections[cid]
        self._drop_subscriptions(lambda s: s.user_id == user_id)
        return len(gone)

    # -- webhooks and subscriptions ----------------------------------------------------

    def add_webhook(self, webhook: Webhook) -> None:
        self.webhooks[webhook.id] = webhook

    def remove_webhook(self, webhook_id: str) -> bool:
        if self.webhooks.pop(webhook_id, None) is None:
            return False
        self._drop_subscriptions(lambda s: s.webhook_id == webhook_id)
        return True

    def subscription_for(self, webhook_id: str, vehicle_id: str) -> Subscription | None:
        for sub in self.subscriptions.values():
            if sub.webhook_id == webhook_id and sub.vehicle_id == vehicle_id:
                return sub
        return None

    def subscribe(self, webhook_id: str, conn: Connection) -> Subscription:
        """A new subscription for the connection's vehicle; one per webhook and vehicle."""
        if self.subscription_for(webhook_id, conn.vehicle_id) is not None:
            raise SubscriptionExists(conn.vehicle_id)
        now = self.clock()
        sub = Subscription(str(uuid.uuid4()), webhook_id, conn.vehicle_id, conn.user_id, now, now)
        self.subscriptions[sub.id] = sub
        return sub

    def unsubscribe(self, subscription_id: str) -> bool:
        return self.subscriptions.pop(subscription_id, None) is not None

    def list_subscriptions(
        self,
        user_id: str | None = None,
        webhook_id: str | None = None,
        vehicle_id: str | None = None,
    ) -> list[Subscription]:
        return [
            s
            for s in self.subscriptions.values()
            if (user_id is None or s.user_id == user_id)
            and (webhook_id is None or s.webhook_id == webhook_id)
            and (vehicle_id is None or s.vehicle_id == vehicle_id)
        ]

    def _drop_subscriptions(self, which: Callable[[Subscription], bool]) -> None:
        for sid in [sid for sid, s in self.subscriptions.items() if which(s)]:
            del self.subscriptions[sid]
