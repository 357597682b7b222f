"""Vendor profiles: which wire protocols a vendor's IoT devices speak, and what they can do.

An operator registers a device by vendor; the profile supplies the protocol the gateway
expects on it, which may be overridden per device (an OKAI scooter retrofitted with a
Teltonika TST100 speaks Teltonika), but only with a protocol that vendor's hardware
actually ships, so a typo cannot route a device to a decoder that will reject all it says.

Default TCP ports are Traccar's (``PortConfigSuffix``), so devices already provisioned for
a Traccar server need no reconfiguration: omni (xrb28) 5180, gl200 5004, teltonika 5027,
gt06 5023, nmea (t55) 5005. Sources for each vendor's protocols: reference
iot-protocols.md sections 0 and 1.1 to 1.7.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.integrations.iot.codecs import PROTOCOLS
from app.integrations.iot.mqtt.profiles import MQTT_PROTOCOLS
from app.models.enums import VehicleKind

logger = logging.getLogger(__name__)

PROTOCOL_PORTS: dict[str, int] = {
    "omni": 5180,
    "gl200": 5004,
    "teltonika": 5027,
    "gt06": 5023,
    "nmea": 5005,
    "jt808": 5015,  # Traccar huabao
    # Traccar has no Segway protocol: 5175 is the one gap in its default range (5174
    # wristband, 5176 milesmate), so no Traccar-provisioned device lands here by mistake.
    "segway": 5175,
    # OKAI: the port Levy Fleets' OKAI guide gives its devices; outside Traccar's defaults
    # (all in 5000-5300), so it clashes with neither them nor gl200's 5004.
    "okai": 9002,
}


# What a device may register with: a TCP/serial codec, or an MQTT profile (no port).
KNOWN_PROTOCOLS: tuple[str, ...] = (*PROTOCOLS, *MQTT_PROTOCOLS)


class ProfileError(ValueError):
    """An unknown vendor or a protocol the vendor does not ship; the message says which."""


@dataclass(frozen=True, slots=True)
class VendorProfile:
    """What the console knows about one vendor's devices.

    ``default_protocol`` is None when no protocol of the vendor is public: such devices
    must name theirs. It may be an MQTT profile's protocol (ZIMO: ``mqtt-zimo``), which
    has no TCP port. ``supported_commands`` is what the hardware offers; the
    protocol's codec may support fewer (``encode_command`` raises ValueError then).
    """

    vendor: str
    default_protocol: str | None
    allowed_protocols: tuple[str, ...]
    default_tcp_port: int | None
    supported_commands: tuple[str, ...]
    vehicle_kinds: tuple[VehicleKind, ...]
    notes: str = ""


_SCOOTERS = (VehicleKind.SCOOTER, VehicleKind.EBIKE)
_ALL_KINDS = (VehicleKind.CAR, VehicleKind.SCOOTER, VehicleKind.EBIKE)

PROFILES: dict[str, VendorProfile] = {
    p.vendor.lower(): p
    for p in (
        VendorProfile(
            vendor="OKAI",
            default_protocol="okai",
            allowed_protocols=("okai", "gl200", "teltonika"),
            default_tcp_port=PROTOCOL_PORTS["okai"],
            supported_commands=("lock", "unlock", "locate"),
            vehicle_kinds=_SCOOTERS,
            notes="ZK-series IoT speaks OKAI's @Track dialect (okai); plain Queclink "
            "framing (gl200) or a Teltonika TST100 retrofit also occur.",
        ),
        VendorProfile(
            vendor="Segway",
            default_protocol="segway",
            allowed_protocols=("segway", "teltonika"),
            default_tcp_port=PROTOCOL_PORTS["segway"],
            supported_commands=("lock", "unlock", "locate", "alarm"),
            vehicle_kinds=_SCOOTERS,
            notes="Segway IoT (2nd/3rd gen) speaks Segway's TCP protocol v1.4.4 "
            "(*HBCR,NB frames, as Levy Fleets' guide describes it); a Teltonika TST100 "
            "on the scooter UART is the retrofit route. Segway's cloud API is separate.",
        ),
        VendorProfile(
            vendor="ZIMO",
            default_protocol="mqtt-zimo",
            allowed_protocols=("mqtt-zimo", "mqtt-flespi", *PROTOCOLS),
            default_tcp_port=None,
            supported_commands=("lock", "unlock", "locate", "alarm"),
            vehicle_kinds=_SCOOTERS,
            notes="ZIMO's IoT speaks MQTT (flespi's zimo protocol); the profile rests on the "
            "parameters flespi lists until a ZIMO document is at hand. Or through flespi "
            "(mqtt-flespi), or a retrofitted tracker's own protocol.",
        ),
        VendorProfile(
            vendor="Omni",
            default_protocol="omni",
            allowed_protocols=("omni",),
            default_tcp_port=PROTOCOL_PORTS["omni"],
            supported_commands=("lock", "unlock", "locate", "alarm"),
            vehicle_kinds=_SCOOTERS,
            notes="Omni IoT locks, Traccar xrb28.",
        ),
        VendorProfile(
            vendor="Teltonika",
            default_protocol="teltonika",
            allowed_protocols=("teltonika",),
            default_tcp_port=PROTOCOL_PORTS["teltonika"],
            supported_commands=("lock", "unlock", "locate"),
            vehicle_kinds=_ALL_KINDS,
            notes="Codec 8/8E reports, Codec 12 commands.",
        ),
        VendorProfile(
            vendor="Concox",
            default_protocol="gt06",
            allowed_protocols=("gt06",),
            default_tcp_port=PROTOCOL_PORTS["gt06"],
            supported_commands=("lock", "unlock"),
            vehicle_kinds=_ALL_KINDS,
            notes="GT06 and its many clones (Jimi IoT); lock = relay cut-off.",
        ),
        VendorProfile(
            vendor="JT/T 808 (generic)",
            default_protocol="jt808",
            allowed_protocols=("jt808",),
            default_tcp_port=PROTOCOL_PORTS["jt808"],
            supported_commands=("lock", "unlock", "locate"),
            vehicle_kinds=_ALL_KINDS,
            notes="Chinese national-standard terminals (Traccar huabao); lock = 0x8105 "
            "oil/circuit cut, locate = 0x8201 position query.",
        ),
    )
}


def get_profile(vendor: str) -> VendorProfile:
    """The profile of ``vendor`` (any case); ProfileError names the known vendors."""
    try:
        return PROFILES[vendor.strip().lower()]
    except KeyError:
        known = ", ".join(p.vendor for p in PROFILES.values())
        raise ProfileError(f"unknown vendor {vendor!r}; known vendors: {known}") from None


def resolve_protocol(profile: VendorProfile, override: str | None = None) -> str:
    """The protocol a device of ``profile`` speaks, honouring a per-device ``override``."""
    allowed = ", ".join(profile.allowed_protocols)
    if override is None or not override.strip():
        if profile.default_protocol is None:
            raise ProfileError(
                f"{profile.vendor} has no default protocol; set one per device: {allowed}"
            )
        return profile.default_protocol
    protocol = override.strip().lower()
    if protocol not in KNOWN_PROTOCOLS:
        raise ProfileError(f"unknown protocol {override!r}; known: {', '.join(KNOWN_PROTOCOLS)}")
    if protocol not in profile.allowed_protocols:
        raise ProfileError(
            f"{profile.vendor} devices do not ship the {protocol} protocol; allowed: {allowed}"
        )
    return protocol


def port_for(protocol: str) -> int:
    """The TCP port the gateway listens on for ``protocol`` by default."""
    try:
        return PROTOCOL_PORTS[protocol]
    except KeyError:
        raise ProfileError(
            f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}"
        ) from None


def vendor_for_protocol(protocol: str) -> str:
    """The vendor a device speaking ``protocol`` most likely comes from ("" if none).

    A profile that ships only this protocol wins (Teltonika for teltonika, Concox for
    gt06); otherwise the first vendor defaulting to it (OKAI for gl200).
    """
    only = [p.vendor for p in PROFILES.values() if p.allowed_protocols == (protocol,)]
    if only:
        return only[-1]
    default = [p.vendor for p in PROFILES.values() if p.default_protocol == protocol]
    return default[0] if default else ""
