from datetime import UTC, datetime, time

import pytest

from app.config import (
    DesktopSettings,
    EmailSettings,
    NotificationSettings,
    SettingsError,
    load_settings,
)
from app.models.alerts import OpenAlert
from app.services.notifications.rules import (
    MAX_RETRY_S,
    QuietHours,
    channel_takes,
    compose,
    parse_quiet_hours,
    retry_delay_s,
)

T0 = datetime(2026, 3, 1, 22, 15, tzinfo=UTC)


def test_quiet_hours_across_midnight():
    night = parse_quiet_hours("22:00-06:00")
    assert night == QuietHours(time(22, 0), time(6, 0))
    assert night.contains(time(22, 0)) and night.contains(time(23, 59)) and night.contains(time(0))
    assert night.contains(time(5, 59)) and not night.contains(time(6, 0))
    assert not night.contains(time(12, 0)) and not night.contains(time(21, 59))


def test_quiet_hours_within_a_day_and_empty():
    lunch = parse_quiet_hours("9:30-10:00")
    assert lunch is not None and lunch.contains(time(9, 30)) and not lunch.contains(time(10, 0))
    assert not lunch.contains(time(23, 0))
    assert parse_quiet_hours("") is None
    same = parse_quiet_hours("08:00-08:00")
    assert same is not None and not same.contains(time(8, 0))  # starts where it ends: never


@pytest.mark.parametrize("bad", ["22:00", "22-06", "24:00-06:00", "22:00-06:60", "night"])
def test_bad_quiet_hours_are_refused_by_name(tmp_path, bad):
    path = tmp_path / "settings.toml"
    path.write_text(f'[notifications]\nquiet_hours = "{bad}"\n')
    with pytest.raises(SettingsError, match=r"notifications\.quiet_hours: .*HH:MM-HH:MM"):
        load_settings(path)


def test_demo_defaults_desktop_on_email_off():
    settings = NotificationSettings()
    assert settings.desktop.enabled and not settings.email.enabled
    assert settings.email.host == "" and settings.quiet_hours == ""


def test_channel_takes_by_kind_severity_and_quiet_hours():
    rules = EmailSettings(enabled=True, kinds=("low_fuel", "silent"), min_severity="warning")
    assert channel_takes(rules, "low_fuel", "warning", quiet=False)
    assert channel_takes(rules, "silent", "critical", quiet=False)
    assert not channel_takes(rules, "low_fuel", "info", quiet=False)  # below the minimum
    assert not channel_takes(rules, "door_open", "critical", quiet=False)  # not its kind
    assert not channel_takes(rules, "low_fuel", "warning", quiet=True)  # quiet hours
    assert channel_takes(rules, "silent", "critical", quiet=True)  # critical goes out
    every = DesktopSettings(min_severity="info")
    assert channel_takes(every, "anything_new", "info", quiet=False)
    assert not channel_takes(DesktopSettings(enabled=False), "silent", "critical", quiet=False)
    assert not channel_takes(EmailSettings(), "silent", "critical", quiet=False)  # off by default


def test_retry_delay_doubles_is_capped_and_bounded():
    settings = NotificationSettings(retry_first_s=30, max_attempts=4)
    assert [retry_delay_s(settings, n) for n in (1, 2, 3, 4)] == [30, 60, 120, None]
    many = NotificationSettings(retry_first_s=600, max_attempts=10)
    assert retry_delay_s(many, 5) == MAX_RETRY_S


def test_compose_names_the_alert_vehicle_and_time():
    alert = OpenAlert(7, 3, "low_charge", "critical", "Charge 4 % (below 15 %)", T0, T0)
    subject, body = compose(alert, "Scooter 3 [S-3]", T0)
    assert subject == "[Fleet Console] Critical: Low charge - Scooter 3 [S-3]"
    assert "Charge 4 % (below 15 %)" in body and "2026-03-01 22:15:00 UTC" in body
    assert "Alert id: 7" in body
    other = OpenAlert(8, 3, "kind_of_a_newer_version", "warning", "", T0, T0)  # no label
    assert compose(other, "S", T0)[0].endswith("Warning: Kind of a newer version - S")
