"""Fixtures of the IoT integration tests: a real MQTT broker process (``mqtt_broker``)."""

from tests.helpers.mqtt_broker import mqtt_broker  # noqa: F401
