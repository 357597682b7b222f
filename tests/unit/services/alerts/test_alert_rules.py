from datetime import UTC, datetime, timedelta

from app.config import AlertSettings
from app.models.alerts import OpenAlert, VehicleFacts
from app.services.alerts.rules import AlertKind, AlertTracker, conditions

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = AlertSettings(clear_after_s=300, unlocked_grace_s=0)


def kinds(facts: VehicleFacts, now: datetime = T0, open_kinds=()) -> set[AlertKind]:
    return {c.kind for c in conditions(facts, now, S, open_kinds)}


def test_each_rule_fires_on_its_condition_and_not_on_unknowns():
    assert kinds(VehicleFacts(1)) == set()
    assert kinds(VehicleFacts(1, fuel_pct=10.0)) == {AlertKind.LOW_FUEL}
    assert kinds(VehicleFacts(1, battery_pct=14.9)) == {AlertKind.LOW_CHARGE}
    assert kinds(VehicleFacts(1, battery_pct=15.0)) == set()
    assert kinds(VehicleFacts(1, locked=False, ever_locked=True)) == {AlertKind.UNLOCKED}
    assert kinds(VehicleFacts(1, locked=False, ever_locked=True, in_rental=True)) == set()
    assert kinds(VehicleFacts(1, tires_kpa={"frontLeft": 150.0, "backLeft": 240.0})) == {
        AlertKind.TIRE_LOW
    }
    assert kinds(VehicleFacts(1, oil_life_pct=5.0)) == {AlertKind.OIL_LOW}


def test_door_open_while_locked_or_parked_but_not_while_driving_a_rental():
    doors = {"frontLeft": "OPEN", "backLeft": "CLOSED"}
    assert AlertKind.DOOR_OPEN in kinds(VehicleFacts(1, locked=True, doors=doors, in_rental=True))
    assert AlertKind.DOOR_OPEN in kinds(VehicleFacts(1, doors=doors, speed_kmh=0.0))
    assert AlertKind.DOOR_OPEN not in kinds(
        VehicleFacts(1, locked=False, doors=doors, in_rental=True)
    )
    [door] = [
        c
        for c in conditions(VehicleFacts(1, locked=True, doors=doors), T0, S)
        if c.kind == AlertKind.DOOR_OPEN
    ]
    assert door.message == "frontLeft open while locked"


def test_unlocked_never_seen_locked_is_no_alarm():
    """A tracker that never reported a locked state (a demo rider) is not "unlocked"."""
    assert kinds(VehicleFacts(1, locked=False)) == set()


def test_unlocked_is_raised_only_after_the_grace_period():
    store, tracker = Store(), AlertTracker(AlertSettings(unlocked_grace_s=300))
    loose = VehicleFacts(1, locked=False, ever_locked=True)
    store.step(tracker, loose, T0)
    store.step(tracker, loose, T0 + timedelta(seconds=299))
    assert store.rows == {}
    store.step(tracker, VehicleFacts(1, locked=True, ever_locked=True), T0 + timedelta(seconds=310))
    store.step(tracker, loose, T0 + timedelta(seconds=320))  # relocked in between: wait anew
    store.step(tracker, loose, T0 + timedelta(seconds=600))
    assert store.rows == {}
    store.step(tracker, loose, T0 + timedelta(seconds=620))
    [alert] = store.rows.values()
    assert alert.kind == AlertKind.UNLOCKED.value and alert.first_seen == T0 + timedelta(
        seconds=620
    )


def test_silent_uses_the_expected_interval_and_is_quiet_while_charging():
    heard = T0 - timedelta(seconds=121)  # past twice the interval (one interval of grace)
    assert AlertKind.SILENT in kinds(VehicleFacts(1, last_heard_at=heard, expected_interval_s=60))
    assert AlertKind.SILENT not in kinds(
        VehicleFacts(1, last_heard_at=T0 - timedelta(seconds=119), expected_interval_s=60)
    )
    assert AlertKind.SILENT not in kinds(
        VehicleFacts(1, status="charging", last_heard_at=heard, expected_interval_s=60)
    )
    assert AlertKind.SILENT not in kinds(VehicleFacts(1, last_heard_at=None))  # no interval known


def test_connection_expiring_and_expired():
    soon = VehicleFacts(
        1,
        connection_type="smartcar",
        connection_status="active",
        refresh_expires_at=T0 + timedelta(days=6),
    )
    later = VehicleFacts(
        1,
        connection_type="smartcar",
        connection_status="active",
        refresh_expires_at=T0 + timedelta(days=8),
    )
    gone = VehicleFacts(1, connection_type="smartcar", connection_status="expired")
    assert kinds(soon) == {AlertKind.CONNECTION_EXPIRING}
    assert kinds(later) == set()
    assert kinds(gone) == {AlertKind.CONNECTION_EXPIRED}


def test_level_hysteresis_keeps_an_open_alert_until_clearly_recovered():
    recovered_a_bit = VehicleFacts(1, fuel_pct=17.0)
    assert kinds(recovered_a_bit) == set()  # would not raise anew
    assert kinds(recovered_a_bit, open_kinds=[AlertKind.LOW_FUEL]) == {AlertKind.LOW_FUEL}
    assert kinds(VehicleFacts(1, fuel_pct=20.0), open_kinds=[AlertKind.LOW_FUEL]) == set()


class Store:
    """The alert table in memory, applying tracker changes like the repository does."""

    def __init__(self) -> None:
        self.rows: dict[int, OpenAlert] = {}
        self.cleared: dict[int, datetime] = {}
        self.next_id = 1

    def open(self) -> dict[tuple[int, str], OpenAlert]:
        return {(a.vehicle_id, a.kind): a for i, a in self.rows.items() if i not in self.cleared}

    def step(self, tracker: AlertTracker, facts: VehicleFacts, now: datetime) -> None:
        changes = tracker.step([facts], self.open(), now)
        for alert in changes.new:
            alert.id = self.next_id
            self.rows[self.next_id] = alert
            self.next_id += 1
        for alert_id in changes.cleared:
            self.cleared[alert_id] = now


def test_persisting_condition_is_one_alert_with_moving_last_seen():
    store, tracker = Store(), AlertTracker(S)
    for minute in range(5):
        store.step(
            tracker, VehicleFacts(1, locked=False, ever_locked=True), T0 + timedelta(minutes=minute)
        )
    [alert] = store.rows.values()
    assert alert.first_seen == T0 and alert.last_seen == T0 + timedelta(minutes=4)
    assert alert.count == 1 and not store.cleared


def test_flapping_condition_is_counted_not_repeated():
    store, tracker = Store(), AlertTracker(S)
    for second in range(0, 600, 30):  # locked/unlocked every 30 s for 10 min
        locked = (second // 30) % 2 == 1
        store.step(
            tracker,
            VehicleFacts(1, locked=locked, ever_locked=True),
            T0 + timedelta(seconds=second),
        )
    assert len(store.rows) == 1 and not store.cleared
    assert store.rows[1].count == 10  # the first raise plus nine comebacks


def test_alert_clears_after_the_minimum_clear_time_and_a_new_one_follows():
    store, tracker = Store(), AlertTracker(S)
    store.step(tracker, VehicleFacts(1, locked=False, ever_locked=True), T0)
    store.step(tracker, VehicleFacts(1, locked=True), T0 + timedelta(seconds=299))
    assert not store.cleared
    store.step(tracker, VehicleFacts(1, locked=True), T0 + timedelta(seconds=300))
    assert store.cleared == {1: T0 + timedelta(seconds=300)}
    store.step(
        tracker, VehicleFacts(1, locked=False, ever_locked=True), T0 + timedelta(seconds=400)
    )
    assert sorted(store.rows) == [1, 2] and store.rows[2].count == 1
