"""Local Smartcar simulator: Connect, token endpoints, Vehicles API v2.0 and V3, Compatibility
API, Management API V3 (webhooks, subscriptions) and webhook delivery (payload 4.0).

It speaks HTTP exactly like the cloud so the app (demo mode), our client's tests and the official
``smartcar`` SDK can all be pointed at it. Start it with :func:`start_simulator` inside a running
loop, or alone with :func:`main` (``python main.py simulator --port 0 ...``).

Which vehicles a Connect login sees (the login itself accepts any email and password):

1. ``single_select_vin`` in the Connect URL: exactly that VIN (unknown VIN:
   ``configuration_error``).
2. Otherwise every vehicle whose spec ``owner_email`` equals the login email (any brand; the
   brand page only matters for unowned cars).
3. Otherwise a deterministic default set: ``default_vehicles_per_login`` (3) vehicles without an
   owner, of the chosen brand when the fleet has any (else of the whole unowned fleet), starting
   at an offset derived from SHA-256 of the email. Same email, same cars.
4. Nothing found: redirect with ``no_vehicles``.

Magic logins, like Smartcar's own simulator: ``<TYPE>.<CODE>@any.domain`` (e.g.
``VEHICLE_STATE.ASLEEP@x.test``, ``RATE_LIMIT.VEHICLE@x.test``, ``SERVER.INTERNAL@x.test``,
``AUTHENTICATION.NULL@x.test``) makes every non-static request of that grant fail with that
catalogued error (static = VIN, attributes, permissions, user, vehicle list);
``TIMEOUT.SLOW@...`` delays every vehicle response by ``slow_delay_s``.
``smartcar@invalid-subscription.com``, ``smartcar@vehicle-incompatible.com``,
``smartcar@no-vehicles.com`` and ``smartcar@server-error.com`` end Connect with that redirect
error; the Deny button gives ``access_denied``. Global faults and vehicle state are set through
the ``/_sim`` control routes (see :mod:`.control`).

Cloud latency: every real Smartcar request reaches the car and typically takes 3-45 s.
``SimulatorConfig.api_latency_s`` (CLI ``--api-latency-ms``; default 0) holds every request
under ``/vehicles/{id}`` that long, a batch once for all its items (the cloud fans them out in
parallel); Connect, tokens, ``/user`` and the vehicle list stay immediate. Without it a
localhost benchmark only measures per-request CPU, not what batching and concurrency save.
``POST /_sim/latency`` changes it while running.

API V3 (same origin; modules ``v3_*``, ``management``, ``webhook_delivery``):

* ``POST /oauth2/token`` (client credentials; form or JSON body, credentials in the body or
  Basic) gives a 1 h application token. Connect's redirect carries ``user_id`` next to ``code``;
  every approved vehicle is a *connection* (``GET /v3/connections``, ``DELETE
  /v3/connections/{id}``, ``DELETE /v3/users/{id}``).
* Vehicle routes (``/v3/vehicles/{id}``, ``/signals``, ``/signals/{code}``,
  ``/commands/{security/lock|unlock, charge/start|stop|set-limit}``) take the application
  token plus ``sc-user-id``, or a v2 per-vehicle token without it (what the official SDK
  sends). They share the v2 throttle, latency and faults. Failures use the V3 envelope
  ``{"errors": [...]}``; the V3-only codes are ``VALIDATION``/``MISSING_HEADER`` (no
  ``sc-user-id``), ``BAD_REQUEST``, ``CONFLICT`` (409) and ``VERIFICATION_FAILED`` (422).
* Management: ``POST /v3/webhooks`` stands in for the Dashboard (VERIFY first), subscriptions
  at ``/v3/subscriptions`` or ``/v3/webhooks/{id}/subscriptions``. Deliveries are signed with
  ``SimulatorConfig.management_token`` and run in rounds every ``webhook_interval_s`` (or on
  ``await running.webhooks.tick()`` / ``POST /_sim/webhooks/tick``); ``POST
  /_sim/vehicles/{vin}/error`` sends VEHICLE_ERROR. See :mod:`.webhook_delivery`.
"""

from app.integrations.smartcar.simulator.cli import main
from app.integrations.smartcar.simulator.core import FaultSettings, SimulatorConfig
from app.integrations.smartcar.simulator.server import RunningSimulator, start_simulator
from app.integrations.smartcar.simulator.specs import VehicleSpec, generate_fleet

__all__ = [
    "FaultSettings",
    "RunningSimulator",
    "SimulatorConfig",
    "VehicleSpec",
    "generate_fleet",
    "main",
    "start_simulator",
]
