"""Devices over MQTT end to end: a real amqtt broker process, the client, real SQLite.

ZIMO reports and flespi messages become stored readings; a lock command is published,
the simulated bike obeys and its next report confirms it; bad publishes are refused with
a log line and nothing stored while a good device keeps storing; a broker that dies and
comes back is reconnected (by the supervisor, with backoff) and storing carries on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomqtt
import pytest
import pytest_asyncio
from sqlalchemy import select

from app.integrations.iot.commands import CommandTracker
from app.integrations.iot.mqtt.broker import BrokerProcess
from app.integrations.iot.mqtt.client import BrokerUnavailable, MqttConfig, MqttDeviceClient
from app.integrations.iot.mqtt.profiles import MQTT_PROFILES
from app.integrations.iot.simulator.mqtt_device import SimBikeSpec, SimZimoFleet
from app.models.database import Database, sqlite_url
from app.models.enums import CommandState
from app.models.orm import TelemetrySample
from app.models.vehicles import VehicleFields, VehicleRepository
from app.services.iot.ingest import IotIngest
from app.services.tasks import RestartPolicy, TaskOwner
from app.services.telemetry.writer import TelemetryWriter
from tests.helpers.waiting import until

BIKE = "861234567890123"
OTHER_BIKE = "861234567890131"
FLESPI_DEVICE = "352625333222111"
STRANGER = "869999999999999"


@dataclass
class Rig:
    db: Database
    ingest: IotIngest
    client: MqttDeviceClient
    broker: BrokerProcess
    vehicles: dict[str, int]


def bike(n: int, imei: str, protocol: str) -> VehicleFields:
    return VehicleFields(
        name=f"Bike {n}",
        fleet_number=f"Z-{n:03d}",
        kind="ebike",
        imei=imei,
        connection_type="iot",
        iot_vendor="ZIMO",
        iot_protocol=protocol,
    )


@pytest_asyncio.fixture
async def rig(tmp_path, mqtt_broker: BrokerProcess) -> AsyncIterator[Rig]:
    db = Database(sqlite_url(tmp_path / "fleet.sqlite"))
    db.migrate()
    imeis = {BIKE: "mqtt-zimo", OTHER_BIKE: "mqtt-zimo", FLESPI_DEVICE: "mqtt-flespi"}
    ids = VehicleRepository(db).add_many(
        [bike(n, imei, protocol) for n, (imei, protocol) in enumerate(imeis.items(), 1)]
    )
    writer = TelemetryWriter(db, retry_initial_s=0.01)
    ingest = IotIngest(db, writer, flush_interval_s=0.05)
    await ingest.refresh()
    client = MqttDeviceClient(
        MqttConfig(mqtt_broker.url, client_id="console-under-test"),
        list(MQTT_PROFILES.values()),
        ingest,
        CommandTracker(),
    )
    tasks = TaskOwner(policy=RestartPolicy(first_s=0.05, max_s=0.2))
    tasks.spawn(writer.run, "writer", restart=True)
    tasks.spawn(ingest.run, "ingest", restart=True)
    tasks.spawn(client.run, "mqtt-client", restart=True, outages=(BrokerUnavailable,))
    try:
        await until(lambda: client.connected, 10, "the client subscribed")
        yield Rig(db, ingest, client, mqtt_broker, dict(zip(imeis, ids, strict=True)))
    finally:
        await tasks.shutdown()
        db.close()


def samples(db: Database, vehicle_id: int) -> list[TelemetrySample]:
    with db.session() as session:
        rows = select(TelemetrySample).where(TelemetrySample.vehicle_id == vehicle_id)
        return list(session.scalars(rows.order_by(TelemetrySample.recorded_at)))


def zimo_report(imei: str, n: int, **values: object) -> bytes:
    report: dict[str, object] = {
        "ident": imei,
        "timestamp": 1_770_000_000.0 + n,
        "position.latitude": 52.52 + n / 1000,
        "position.longitude": 13.405,
        "position.speed": 14.5,
        "position.direction": 90,
        "position.satellites": 9,
        "position.valid": True,
        "battery.level": 76,
        "battery.charging.status": False,
        "lock.status": False,
        "vehicle.mileage": 321.5,
        "fall.alarm": False,
        "ecu.software.version.enum": 12,
    }
    report.update(values)
    return json.dumps(report).encode()


async def publish(broker: BrokerProcess, *messages: tuple[str, bytes]) -> None:
    async with aiomqtt.Client(broker.host, broker.port) as device:
        for topic, payload in messages:
            await device.publish(topic, payload, qos=1)


@pytest.mark.asyncio
async def test_a_zimo_report_becomes_a_stored_reading(rig: Rig) -> None:
    await publish(rig.broker, (f"zimo/{BIKE}/report", zimo_report(BIKE, 1, **{"fall.alarm": True})))
    vehicle = rig.vehicles[BIKE]
    await until(lambda: samples(rig.db, vehicle), 10, "the ZIMO report stored")
    [sample] = samples(rig.db, vehicle)
    assert (sample.source, sample.latitude, sample.longitude) == ("iot", 52.521, 13.405)
    assert (sample.speed_kmh, sample.course_deg, sample.battery_pct) == (14.5, 90.0, 76.0)
    assert (sample.locked, sample.charging, sample.odometer_km) == (False, False, 321.5)
    assert sample.recorded_at.replace(tzinfo=UTC) == datetime.fromtimestamp(1_770_000_001, UTC)
    assert json.loads(sample.raw or "{}")["ident"] == BIKE  # the payload as received
    await rig.ingest.flush()
    heard = rig.ingest.heard(BIKE)
    assert heard is not None and heard.firmware == "12" and heard.protocol == "mqtt-zimo"


@pytest.mark.asyncio
async def test_flespi_messages_of_one_publish_are_all_stored(rig: Rig) -> None:
    messages = [
        {
            "ident": FLESPI_DEVICE,
            "timestamp": 1_770_000_000.5 + n,
            "position.latitude": 49.069782,
            "position.longitude": 28.632826 + n / 100,
            "position.speed": 20.0,
            "battery.level": 90 - n,
            "lock.status": True,
            "device.id": 4711,
            "channel.id": 1111,
        }
        for n in range(3)
    ]
    await publish(rig.broker, ("flespi/message/gw/devices/4711", json.dumps(messages).encode()))
    vehicle = rig.vehicles[FLESPI_DEVICE]
    await until(lambda: len(samples(rig.db, vehicle)) == 3, 10, "three flespi messages stored")
    stored = samples(rig.db, vehicle)
    assert [s.battery_pct for s in stored] == [90.0, 89.0, 88.0]
    assert [s.longitude for s in stored] == pytest.approx([28.632826, 28.642826, 28.652826])
    assert all(s.locked is True for s in stored)


@pytest.mark.asyncio
async def test_lock_is_published_obeyed_by_the_bike_and_confirmed_by_its_report(rig: Rig) -> None:
    fleet = SimZimoFleet(rig.broker.host, rig.broker.port, [SimBikeSpec(BIKE, interval=30.0)])
    await fleet.start()
    try:
        simulated = fleet.bikes[BIKE].vehicle
        for action in ("unlock", "lock") if simulated.locked else ("lock", "unlock"):
            handle = await rig.client.send_command(BIKE, action, protocol="mqtt-zimo")
            assert await handle.wait(timeout=10) is CommandState.CONFIRMED, handle.history
            assert [u.state for u in handle.history] == [
                CommandState.QUEUED,
                CommandState.SENT,
                CommandState.ACKNOWLEDGED,
                CommandState.CONFIRMED,
            ]
            assert simulated.locked is (action == "lock")
            assert fleet.bikes[BIKE].commands[-1] == action
        buzz = await rig.client.send_command(BIKE, "alarm", protocol="mqtt-zimo")
        assert await buzz.wait(timeout=10) is CommandState.CONFIRMED
        assert fleet.bikes[BIKE].commands[-1] == "buzzer"
        stored = samples(rig.db, rig.vehicles[BIKE])
        assert stored and stored[-1].locked is simulated.locked
    finally:
        await fleet.stop()


@pytest.mark.asyncio
async def test_a_command_the_profile_lacks_fails_at_once(rig: Rig) -> None:
    handle = await rig.client.send_command(FLESPI_DEVICE, "lock", protocol="mqtt-flespi")
    assert handle.state is CommandState.FAILED
    assert "mqtt-flespi has no 'lock' command" in handle.detail


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.integrations.iot.mqtt.client", r"MQTT publish refused, not stored: mqtt-zimo on"
)
async def test_bad_publishes_are_refused_and_logged_while_a_good_device_keeps_storing(
    rig: Rig, caplog
) -> None:
    good = rig.vehicles[OTHER_BIKE]
    bad = [
        (f"zimo/{BIKE}/report", b'{"ident": "' + BIKE.encode() + b'", "position.lat'),
        (f"zimo/{BIKE}/report", zimo_report(BIKE, 2, **{"position.latitude": "north"})),
        (f"zimo/{BIKE}/report", zimo_report(OTHER_BIKE, 3)),  # topic and payload disagree
        ("flespi/message/gw/devices/9", b'{"timestamp": 1770000000}'),  # no ident at all
        (f"zimo/{STRANGER}/report", zimo_report(STRANGER, 4)),  # nobody registered it
    ]
    good_reports = [(f"zimo/{OTHER_BIKE}/report", zimo_report(OTHER_BIKE, n)) for n in range(5)]
    interleaved = [m for pair in zip(good_reports, bad, strict=True) for m in pair]
    await publish(rig.broker, *interleaved)
    await until(lambda: len(samples(rig.db, good)) == 5, 10, "every good report stored")
    await until(lambda: rig.client.stats.received == 10, 10, "every publish handled")
    assert samples(rig.db, rig.vehicles[BIKE]) == []
    assert (rig.client.stats.malformed, rig.client.stats.unknown) == (4, 1)
    refused = [r for r in caplog.records if "MQTT publish refused" in r.getMessage()]
    assert len(refused) == 1 and "payload is not JSON" in refused[0].getMessage()  # rate-limited
    frames = [e.status for e in rig.ingest.frames.entries(BIKE)]
    assert any("position.latitude is not a number" in s for s in frames)
    inbox = await rig.ingest.unknown_devices()
    assert [(u.device_id, u.protocol, u.address) for u in inbox] == [
        (STRANGER, "mqtt-zimo", f"zimo/{STRANGER}/report")
    ]


@pytest.mark.asyncio
@pytest.mark.expect_log(
    "app.services.tasks", r"background task mqtt-client (stopped: .*MQTT broker|restarts in)"
)
async def test_the_client_reconnects_after_the_broker_died_and_keeps_storing(rig: Rig) -> None:
    vehicle = rig.vehicles[BIKE]
    await publish(rig.broker, (f"zimo/{BIKE}/report", zimo_report(BIKE, 1)))
    await until(lambda: len(samples(rig.db, vehicle)) == 1, 10, "stored before the outage")
    rig.broker.kill()
    await until(lambda: not rig.client.connected, 10, "the client saw the broker go")
    await asyncio.to_thread(rig.broker.start)  # same port, a fresh broker
    await until(lambda: rig.client.connected, 15, "the client reconnected")
    await publish(rig.broker, (f"zimo/{BIKE}/report", zimo_report(BIKE, 2)))
    await until(lambda: len(samples(rig.db, vehicle)) == 2, 10, "stored after the outage")
    assert rig.client.stats.connects == 2
