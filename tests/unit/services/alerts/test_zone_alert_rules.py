"""The zone alert kinds from the facts' zone verdicts."""

from datetime import UTC, datetime

from app.config import AlertSettings
from app.models.alerts import VehicleFacts
from app.services.alerts.rules import AlertKind, conditions

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = AlertSettings()


def found(facts: VehicleFacts) -> dict[AlertKind, tuple[str, str]]:
    return {c.kind: (c.severity, c.message) for c in conditions(facts, T0, S)}


def test_outside_the_service_area_is_critical_during_a_rental():
    assert found(VehicleFacts(1, outside_service_area=True)) == {
        AlertKind.OUTSIDE_SERVICE_AREA: ("warning", "Outside every service area")
    }
    assert found(VehicleFacts(1, outside_service_area=True, in_rental=True)) == {
        AlertKind.OUTSIDE_SERVICE_AREA: ("critical", "Outside every service area during a rental")
    }
    assert found(VehicleFacts(1)) == {}


def test_a_no_parking_zone_alerts_only_a_parked_vehicle_outside_a_rental():
    parked = VehicleFacts(1, no_parking_zone="Lustgarten", speed_kmh=0.0)
    assert found(parked) == {
        AlertKind.IN_NO_PARKING_ZONE: ("warning", "Parked in the no-parking zone Lustgarten")
    }
    assert found(VehicleFacts(1, no_parking_zone="Lustgarten")) != {}  # no speed: parked
    assert found(VehicleFacts(1, no_parking_zone="Lustgarten", speed_kmh=12.0)) == {}
    assert found(VehicleFacts(1, no_parking_zone="Lustgarten", in_rental=True)) == {}
