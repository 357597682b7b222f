"""Vendor profiles: lookup, per-device protocol override, ports."""

from __future__ import annotations

import dataclasses

import pytest

from app.integrations.iot.codecs import PROTOCOLS
from app.integrations.iot.profiles import (
    KNOWN_PROTOCOLS,
    PROFILES,
    PROTOCOL_PORTS,
    ProfileError,
    VendorProfile,
    get_profile,
    port_for,
    resolve_protocol,
    vendor_for_protocol,
)
from app.models.enums import VehicleKind


def test_all_requested_vendors_exist() -> None:
    assert {p.vendor for p in PROFILES.values()} == {
        "OKAI",
        "Segway",
        "ZIMO",
        "Omni",
        "Teltonika",
        "Concox",
        "JT/T 808 (generic)",
    }


@pytest.mark.parametrize("profile", PROFILES.values(), ids=lambda p: p.vendor)
def test_profiles_are_consistent(profile: VendorProfile) -> None:
    assert set(profile.allowed_protocols) <= set(KNOWN_PROTOCOLS)
    assert profile.default_protocol is None or profile.default_protocol in profile.allowed_protocols
    expected_port = (
        PROTOCOL_PORTS.get(profile.default_protocol) if profile.default_protocol else None
    )
    assert profile.default_tcp_port == expected_port
    assert set(profile.supported_commands) <= {"lock", "unlock", "locate", "alarm"}
    assert profile.vehicle_kinds and all(isinstance(k, VehicleKind) for k in profile.vehicle_kinds)


def test_profiles_are_frozen() -> None:
    with pytest.raises(AttributeError):
        get_profile("okai").default_protocol = "nmea"  # type: ignore[misc]


def test_ports_follow_traccar() -> None:
    assert PROTOCOL_PORTS == {
        "omni": 5180,
        "gl200": 5004,
        "teltonika": 5027,
        "gt06": 5023,
        "nmea": 5005,
        "jt808": 5015,
        "segway": 5175,  # not Traccar's: the gap between wristband 5174 and milesmate 5176
        "okai": 9002,  # not a Traccar protocol: Levy's OKAI port, clear of Traccar's range
    }
    assert set(PROTOCOL_PORTS) == set(PROTOCOLS)
    assert port_for("gl200") == 5004
    assert port_for("okai") == 9002 and not 5000 <= port_for("okai") <= 5300


@pytest.mark.parametrize(
    ("vendor", "protocol"),
    [
        ("OKAI", "okai"),
        (" okai ", "okai"),
        ("Omni", "omni"),
        ("CONCOX", "gt06"),
        ("segway", "segway"),
    ],
)
def test_lookup_is_case_insensitive_and_gives_the_default(vendor: str, protocol: str) -> None:
    assert resolve_protocol(get_profile(vendor)) == protocol


def test_unknown_vendor_names_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="OKAI") as caught:
        get_profile("Lime")
    assert "Lime" in str(caught.value)


def test_override_within_what_the_vendor_ships() -> None:
    okai = get_profile("OKAI")
    assert resolve_protocol(okai, "Teltonika") == "teltonika"
    assert resolve_protocol(okai, "gl200") == "gl200"  # plain Queclink framing stays allowed
    assert resolve_protocol(okai, "") == "okai"


def test_segway_speaks_its_own_protocol_and_keeps_the_teltonika_retrofit() -> None:
    segway = get_profile("Segway")
    assert segway.allowed_protocols == ("segway", "teltonika")
    assert segway.default_tcp_port == 5175
    assert resolve_protocol(segway, "teltonika") == "teltonika"
    with pytest.raises(ProfileError, match="Segway devices do not ship the omni protocol"):
        resolve_protocol(segway, "omni")


def test_override_the_vendor_does_not_ship_is_refused_clearly() -> None:
    with pytest.raises(
        ProfileError, match=r"Omni devices do not ship the gt06 protocol; allowed: omni"
    ):
        resolve_protocol(get_profile("Omni"), "gt06")


def test_override_with_unknown_protocol_is_refused() -> None:
    with pytest.raises(ProfileError, match="unknown protocol 'mqtt'"):
        resolve_protocol(get_profile("ZIMO"), "mqtt")


def test_zimo_defaults_to_mqtt_and_still_takes_a_retrofit_protocol() -> None:
    zimo = get_profile("zimo")
    assert resolve_protocol(zimo) == "mqtt-zimo"
    assert resolve_protocol(zimo, "mqtt-flespi") == "mqtt-flespi"
    assert resolve_protocol(zimo, "gt06") == "gt06"
    assert zimo.default_tcp_port is None
    assert vendor_for_protocol("mqtt-zimo") == "ZIMO"


def test_a_vendor_without_a_public_protocol_needs_one_per_device() -> None:
    secret = dataclasses.replace(get_profile("zimo"), default_protocol=None)
    with pytest.raises(ProfileError, match="no default protocol"):
        resolve_protocol(secret)


def test_port_for_unknown_protocol() -> None:
    with pytest.raises(ProfileError):
        port_for("xrb28")
