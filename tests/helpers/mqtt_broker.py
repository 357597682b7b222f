"""A real MQTT broker process per test: ``mqtt_broker`` (see BrokerProcess).

The broker is amqtt in a child process on a free port of 127.0.0.1, started before the
test and stopped after it; a test may ``kill()`` and ``start()`` it again (same port) to
prove the client reconnects.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.integrations.iot.mqtt.broker import BrokerProcess


@pytest.fixture
def mqtt_broker() -> Iterator[BrokerProcess]:
    broker = BrokerProcess()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
