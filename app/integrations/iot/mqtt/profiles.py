"""The built-in MQTT profiles by name and by protocol (what a device registers with)."""

from __future__ import annotations

from app.integrations.iot.mqtt.flespi import FLESPI
from app.integrations.iot.mqtt.profile import MqttProfile
from app.integrations.iot.mqtt.zimo import ZIMO

MQTT_PROFILES: dict[str, MqttProfile] = {p.name: p for p in (ZIMO, FLESPI)}
MQTT_PROTOCOLS: tuple[str, ...] = tuple(p.protocol for p in MQTT_PROFILES.values())
BY_PROTOCOL: dict[str, MqttProfile] = {p.protocol: p for p in MQTT_PROFILES.values()}


def mqtt_profile(name: str) -> MqttProfile:
    """The profile called ``name`` ("zimo", "flespi"); KeyError names the known ones."""
    try:
        return MQTT_PROFILES[name]
    except KeyError:
        raise KeyError(
            f"unknown MQTT profile {name!r}; known: {', '.join(MQTT_PROFILES)}"
        ) from None
