"""API V3 beyond vehicle data: connections, unified commands and the Management API.

Where the sources disagree (see the V3 reference, section 8) the client accepts every
documented answer and sends the most common request: single resources bare or wrapped in
``data``, paths ``/v3/subscriptions`` (OpenAPI) with a fallback to the launch blog's
``/v3/webhooks/{id}/subscriptions`` when the first is not routed at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.integrations.smartcar.errors import ResourceNotFoundError, SmartcarProtocolError
from app.integrations.smartcar.models import (
    CommandExecution,
    Subscription,
    V3Connection,
    Webhook,
)
from app.integrations.smartcar.v3_reader import unwrap
from app.integrations.smartcar.v3_transport import V3Transport
from app.integrations.smartcar.wire import obj, req_text

#: Commands by the console's name: (path under ``commands/``, the execution's type).
COMMANDS = {
    "lock": "security/lock",
    "unlock": "security/unlock",
    "start_charge": "charge/start",
    "stop_charge": "charge/stop",
    "set_charge_limit": "charge/set-limit",
}
PAGE_SIZE = 50
MAX_PAGES = 200  # 10,000 connections; stops a server whose paging never ends


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _id_of(relationship: Any) -> str | None:
    data = relationship.get("data") if isinstance(relationship, Mapping) else None
    value = data.get("id") if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else None


def parse_connection(raw: Any) -> V3Connection:
    item = obj(raw, "connection")
    attributes = item.get("attributes") if isinstance(item.get("attributes"), Mapping) else {}
    assert isinstance(attributes, Mapping)
    relationships = item.get("relationships")
    relationships = relationships if isinstance(relationships, Mapping) else {}
    vehicle_id = _id_of(relationships.get("vehicle"))
    user = attributes.get("user")
    user_id = _id_of(relationships.get("user")) or (
        user.get("id") if isinstance(user, Mapping) and isinstance(user.get("id"), str) else None
    )
    if vehicle_id is None or user_id is None:
        raise SmartcarProtocolError("connection without a vehicle or user id")
    permissions = attributes.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise SmartcarProtocolError("connection: permissions is not a list of strings")
    vehicle = attributes.get("vehicle") if isinstance(attributes.get("vehicle"), Mapping) else {}
    assert isinstance(vehicle, Mapping)
    year = vehicle.get("year")
    powertrain = vehicle.get("powertrainType")
    return V3Connection(
        id=req_text(item, "id"),
        user_id=user_id,
        vehicle_id=vehicle_id,
        permissions=tuple(permissions),
        make=_text(vehicle.get("make")),
        model=_text(vehicle.get("model")),
        year=year if isinstance(year, int) and not isinstance(year, bool) else None,
        powertrain=powertrain.lower() if isinstance(powertrain, str) else None,
    )


def _execution(body: Any) -> CommandExecution:
    resource = unwrap(body, "command execution")
    attributes = obj(resource.get("attributes"), "command execution")
    status = attributes.get("status")
    value = status.get("value") if isinstance(status, Mapping) else status
    mode = attributes.get("executionMode")
    return CommandExecution(
        id=req_text(resource, "id"),
        command_type=req_text(attributes, "commandType"),
        status=value if isinstance(value, str) else "UNKNOWN",
        execution_mode=mode if isinstance(mode, str) else None,
    )


def _subscription(raw: Any) -> Subscription:
    resource = obj(raw, "subscription")
    relationships = resource.get("relationships")
    relationships = relationships if isinstance(relationships, Mapping) else {}
    webhook = _id_of(relationships.get("webhook"))
    vehicle = _id_of(relationships.get("vehicle"))
    if webhook is None or vehicle is None:
        raise SmartcarProtocolError("subscription without a webhook or vehicle id")
    return Subscription(
        req_text(resource, "id"), webhook, vehicle, _id_of(relationships.get("user"))
    )


def _webhook(raw: Any) -> Webhook:
    resource = obj(raw, "webhook")
    attributes = obj(resource.get("attributes"), "webhook")
    return Webhook(
        req_text(resource, "id"),
        _text(attributes.get("name")),
        req_text(attributes, "callbackUri"),
        attributes.get("isEnabled") is not False,
    )


def _not_routed(exc: ResourceNotFoundError) -> bool:
    return exc.status == 405 or exc.code in (None, "PATH")


class V3Endpoints:
    """Connections, commands and webhook subscriptions; all calls use the app token."""

    def __init__(self, transport: V3Transport) -> None:
        self._transport = transport

    # -- connections -----------------------------------------------------------------------

    async def connections(
        self, *, user_id: str | None = None, vehicle_id: str | None = None
    ) -> list[V3Connection]:
        """Every connection (of one user / vehicle), walking the pages."""
        found: list[V3Connection] = []
        for number in range(1, MAX_PAGES + 1):
            params: dict[str, str | int] = {"page[number]": number, "page[size]": PAGE_SIZE}
            if user_id:
                params["filter[userId]"] = user_id
            if vehicle_id:
                params["filter[vehicleId]"] = vehicle_id
            raw = await self._transport.request("GET", "/v3/connections", params=params)
            body = obj(raw.body, "connections")
            items = body.get("data")
            if not isinstance(items, list):
                raise SmartcarProtocolError("connections: 'data' is not a list")
            found.extend(parse_connection(i) for i in items)
            links = body.get("links")
            following = links.get("next") if isinstance(links, Mapping) else None
            if not items or not following:
                break
        return found

    async def remove_connection(self, connection_id: str) -> None:
        await self._transport.request("DELETE", f"/v3/connections/{connection_id}")

    async def remove_user(self, user_id: str) -> None:
        """Remove the user and every connection they made (``DELETE /v3/users/{id}``)."""
        await self._transport.request("DELETE", f"/v3/users/{user_id}")

    # -- commands --------------------------------------------------------------------------

    async def command(
        self, vehicle_id: str, user_id: str, name: str, percent: int | None = None
    ) -> CommandExecution:
        """Send a unified command; a failure raises the typed error of its envelope.

        The answer says whether the car executed it, never the car's state: callers
        confirm a lock by reading ``closure-islocked`` back.
        """
        body: Any = None
        if name == "set_charge_limit":
            if percent is None or not 50 <= percent <= 100:
                raise ValueError("charge limit must be 50-100 %")
            body = {"data": {"attributes": {"percent": percent}}}
        raw = await self._transport.request(
            "POST",
            f"/v3/vehicles/{vehicle_id}/commands/{COMMANDS[name]}",
            user_id=user_id,
            json=body,
        )
        return _execution(raw.body)

    # -- Management API --------------------------------------------------------------------

    async def webhooks(self) -> list[Webhook]:
        raw = await self._transport.request(
            "GET", "/v3/webhooks", params={"page[size]": 100}, api="management"
        )
        items = obj(raw.body, "webhooks").get("data")
        if not isinstance(items, list):
            raise SmartcarProtocolError("webhooks: 'data' is not a list")
        return [_webhook(i) for i in items]

    async def subscribe(self, webhook_id: str, vehicle_id: str) -> None:
        """Ask for the vehicle's deliveries (202: Smartcar subscribes it asynchronously)."""
        attributes = {"webhookId": webhook_id, "vehicleId": vehicle_id}
        try:
            await self._transport.request(
                "POST",
                "/v3/subscriptions",
                json={"data": {"attributes": attributes}},
                api="management",
            )
        except ResourceNotFoundError as exc:
            if not _not_routed(exc):
                raise
            await self._transport.request(
                "POST",
                f"/v3/webhooks/{webhook_id}/subscriptions",
                json={"data": {"attributes": {"vehicleId": vehicle_id}}},
                api="management",
            )

    async def subscriptions(
        self, *, webhook_id: str | None = None, vehicle_id: str | None = None
    ) -> list[Subscription]:
        params: dict[str, str | int] = {"page[size]": 100}
        if webhook_id:
            params["filter[webhookId]"] = webhook_id
        if vehicle_id:
            params["filter[vehicleId]"] = vehicle_id
        raw = await self._transport.request(
            "GET", "/v3/subscriptions", params=params, api="management"
        )
        items = obj(raw.body, "subscriptions").get("data")
        if not isinstance(items, list):
            raise SmartcarProtocolError("subscriptions: 'data' is not a list")
        return [_subscription(i) for i in items]

    async def unsubscribe(self, webhook_id: str, vehicle_id: str) -> None:
        """Stop the vehicle's deliveries to this webhook; already gone is fine."""
        found = await self.subscriptions(webhook_id=webhook_id, vehicle_id=vehicle_id)
        for subscription in found:
            try:
                await self._transport.request(
                    "DELETE", f"/v3/subscriptions/{subscription.id}", api="management"
                )
            except ResourceNotFoundError as exc:
                if not _not_routed(exc):
                    continue  # already gone
                await self._transport.request(
                    "DELETE",
                    f"/v3/webhooks/{webhook_id}/subscriptions/{vehicle_id}",
                    api="management",
                )

    async def create_webhook(self, name: str, callback_uri: str) -> Webhook:
        """Register a webhook: the bundled simulator's stand-in for the Smartcar Dashboard
        (the real Management API has no create endpoint; webhooks are made there)."""
        raw = await self._transport.request(
            "POST",
            "/v3/webhooks",
            json={"data": {"attributes": {"name": name, "callbackUri": callback_uri}}},
            api="management",
        )
        return _webhook(unwrap(raw.body, "webhook"))
