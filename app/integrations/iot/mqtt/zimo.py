"""ZIMO e-bikes and scooters over MQTT, on the parameters flespi publishes for them.

flespi's ``zimo`` protocol page describes a "Zimo MQTT Protocol" (IMEI as the ident) and
lists what flespi's parser produces: battery level, charging status and cycles, battery
serial and state, fall alarm, buzzer status, charger-inserted event, ECU hardware and
software versions, event codes and sequence numbers, Bluetooth MAC, GSM codes. ZIMO's
own wire format is not public.

THIS PROFILE RESTS ON THAT LIST UNTIL A VENDOR DOCUMENT IS AT HAND. What is ours, not
ZIMO's: the topics (``zimo/{ident}/report`` up, ``zimo/{ident}/command`` down), that a
report is one JSON object keyed by flespi's parameter names, and the command payloads
(``{"command": "lock", "seq": 7}``). A fleet whose ZIMO devices go through flespi uses
the ``mqtt-flespi`` profile instead and needs none of these guesses.
"""

from __future__ import annotations

from app.integrations.iot.mqtt.flespi import FLESPI_ATTRIBUTES, FLESPI_FIELDS
from app.integrations.iot.mqtt.profile import MqttProfile

ZIMO_FIELDS: dict[str, str] = {**FLESPI_FIELDS, "ecu.software.version.enum": "firmware"}

ZIMO_ALARMS: dict[str, str] = {"fall.alarm": "fall", "charger.insert.event": "charger_inserted"}

ZIMO_ATTRIBUTES: tuple[str, ...] = (
    *FLESPI_ATTRIBUTES,
    "battery.charging.cycles",
    "battery.full",
    "battery.id.serial",
    "battery.state",
    "bluetooth.mac.address",
    "buzzer.alarm.status",
    "device.hardware.state.flag",
    "driver.id",
    "ecu.hardware.version.enum",
    "event.enum",
    "event.seqnum",
    "gsm.mcc",
    "gsm.mnc",
)

ZIMO = MqttProfile(
    name="zimo",
    protocol="mqtt-zimo",
    report_topic="zimo/{ident}/report",
    ident_field="ident",
    fields=ZIMO_FIELDS,
    alarms=ZIMO_ALARMS,
    attributes=ZIMO_ATTRIBUTES,
    command_topic="zimo/{ident}/command",
    commands={
        "lock": {"command": "lock", "seq": "{seq}"},
        "unlock": {"command": "unlock", "seq": "{seq}"},
        "locate": {"command": "locate", "seq": "{seq}"},
        "alarm": {"command": "buzzer", "seq": "{seq}"},  # buzzer.alarm.status on the bike
    },
    source="flespi's zimo protocol parameter list (flespi.com/protocols/zimo); "
    "topics and command payloads are the console's own until a ZIMO document is at hand",
)
