"""The MQTT side of the IoT runtime: broker (demo), client, simulated ZIMO bikes (demo).

Live mode subscribes to ``[iot.mqtt] broker_url`` when one is set (password from
``FLEET_MQTT_PASSWORD``). Demo mode starts its own amqtt broker as a supervised child
process on a free port of 127.0.0.1, the client, and the demo fleet's ZIMO e-bikes,
which publish through that broker like real ones.

Every part runs under the runtime's TaskOwner: the broker process and the bikes are
restarted if they end; the client's :class:`BrokerUnavailable` is an outage, shown in the
status bar ("mqtt-client stopped: ..., restarting in N s") and retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from app.config import MQTT_PASSWORD_ENV, Settings
from app.integrations.iot.commands import CommandTracker
from app.integrations.iot.mqtt.broker import BrokerProcess
from app.integrations.iot.mqtt.client import BrokerUnavailable, MqttConfig, MqttDeviceClient
from app.integrations.iot.mqtt.profiles import mqtt_profile
from app.integrations.iot.simulator.mqtt_device import SimBikeSpec, SimZimoFleet
from app.services.iot.ingest import IotIngest
from app.services.tasks import TaskOwner
from app.services.vehicles.demo_fleet import demo_fleet

logger = logging.getLogger(__name__)

DEMO_CLIENT_ID = "fleet-console-demo"


@dataclass
class MqttParts:
    """What runs for MQTT devices; each part None where this mode has none."""

    client: MqttDeviceClient | None = None
    broker: BrokerProcess | None = None
    bikes: SimZimoFleet | None = None


def live_config(settings: Settings) -> MqttConfig | None:
    """The configured broker (None: MQTT is off), its password from the environment."""
    mqtt = settings.iot.mqtt
    if not mqtt.broker_url:
        return None
    return MqttConfig(
        mqtt.broker_url,
        username=mqtt.username,
        password=os.environ.get(MQTT_PASSWORD_ENV, ""),
        ca_file=mqtt.ca_file,
        cert_file=mqtt.client_cert_file,
        key_file=mqtt.client_key_file,
        client_id=mqtt.client_id,
        topic_prefix=mqtt.topic_prefix,
        online_within=timedelta(seconds=mqtt.online_within_s),
    )


async def start_mqtt(
    settings: Settings,
    ingest: IotIngest,
    commands: CommandTracker,
    tasks: TaskOwner,
    *,
    demo: bool,
    report_interval_s: float,
) -> MqttParts:
    """Start what this mode needs; RuntimeError if the demo broker does not start."""
    parts = MqttParts()
    if demo:
        parts.broker = BrokerProcess()
        await _start_broker(parts.broker)
        tasks.spawn(parts.broker.run, "mqtt-broker", restart=True)
        config: MqttConfig | None = MqttConfig(parts.broker.url, client_id=DEMO_CLIENT_ID)
    else:
        config = live_config(settings)
    if config is None:
        return parts
    profiles = [mqtt_profile(name) for name in settings.iot.mqtt.profiles]
    parts.client = MqttDeviceClient(config, profiles, ingest, commands)
    tasks.spawn(parts.client.run, "mqtt-client", restart=True, outages=(BrokerUnavailable,))
    if parts.broker is not None:
        parts.bikes = _demo_bikes(settings, ingest, parts.broker, report_interval_s)
        if parts.bikes.bikes:
            await parts.bikes.start()
            tasks.spawn(parts.bikes.run, "iot-demo-zimo-bikes", restart=True)
    return parts


async def _start_broker(broker: BrokerProcess) -> None:
    await asyncio.to_thread(broker.start)
    logger.info("MQTT demo broker on %s", broker.url)


def _demo_bikes(
    settings: Settings, ingest: IotIngest, broker: BrokerProcess, report_interval_s: float
) -> SimZimoFleet:
    """The demo fleet's registered ZIMO bikes, parked where the demo put them."""
    specs = []
    for vehicle in demo_fleet(settings.demo):
        imei = vehicle.fields.imei
        entry = ingest.device(imei) if imei else None
        if entry is not None and entry.protocol == "mqtt-zimo":
            start = (vehicle.latitude, vehicle.longitude)
            specs.append(SimBikeSpec(entry.device_id, report_interval_s, start))
    return SimZimoFleet(broker.host, broker.port, specs, seed=settings.demo.seed)
