"""flespi's message JSON: the parameter names flespi gives every device it parses.

flespi (Gurtam) turns hundreds of device protocols into one flat JSON message per
reading and can forward it over MQTT (its own broker's ``flespi/message/gw/devices/<id>``
topics, or an MQTT stream to any broker). So one profile lets any device flespi parses
(ZIMO, Voi, Segway, OKAI, Teltonika, ...) arrive here.

Sources (flespi.com, read 2026): "Message — basic information unit" (kb: ``ident``,
``timestamp`` in Unix seconds with microseconds as the fraction, ``device.id``,
``channel.id``), the MQTT channel protocol page (payload is an object or an array of
objects; ``timestamp`` may also be an ISO 8601 UTC string) and the protocol pages'
parameter lists for the ``position.*``, ``battery.*``, ``lock.status``,
``external.powersource.voltage`` and ``vehicle.mileage`` names. Commands to
flespi-parsed devices go through flespi's REST commands queue, not MQTT: this profile
only receives.
"""

from __future__ import annotations

from app.integrations.iot.mqtt.profile import MqttProfile

#: flespi parameter -> DeviceRecord field; shared by every profile on flespi's names.
FLESPI_FIELDS: dict[str, str] = {
    "timestamp": "fix_time",
    "position.latitude": "latitude",
    "position.longitude": "longitude",
    "position.speed": "speed_kmh",
    "position.direction": "course_deg",
    "position.altitude": "altitude_m",
    "position.satellites": "satellites",
    "position.valid": "valid_fix",
    "battery.level": "battery_pct",
    "battery.charging.status": "charging",
    "lock.status": "lock_state",  # true = locked
    "vehicle.mileage": "odometer_km",
}

#: Readings without a DeviceRecord field of their own, kept as attributes.
FLESPI_ATTRIBUTES: tuple[str, ...] = (
    "battery.voltage",
    "external.powersource.voltage",
    "position.hdop",
    "movement.status",
    "gsm.signal.level",
    "device.id",
    "channel.id",
    "protocol.id",
)

#: Boolean event parameters flespi's protocol pages use, stored as alarms when true.
FLESPI_ALARMS: dict[str, str] = {
    "alarm.event": "alarm",
    "battery.low.alarm": "low_battery",
    "crash.event": "crash",
}

FLESPI = MqttProfile(
    name="flespi",
    protocol="mqtt-flespi",
    report_topic="flespi/message/gw/devices/+",
    ident_field="ident",
    fields=FLESPI_FIELDS,
    alarms=FLESPI_ALARMS,
    attributes=FLESPI_ATTRIBUTES,
    source="flespi message JSON (flespi.com knowledge base and protocol pages)",
)
