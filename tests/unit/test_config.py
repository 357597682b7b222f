import pytest

from app.config import SerialDeviceSettings, Settings, SettingsError, load_settings
from app.integrations.iot.codecs import PROTOCOLS
from app.paths import resolve_paths


def test_missing_file_gives_defaults(tmp_path):
    settings = load_settings(tmp_path / "nope.toml")
    assert settings == Settings()
    assert settings.telemetry.poll_interval_s == 300
    assert not settings.live


def test_values_are_read(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[telemetry]\npoll_interval_s = 60\n[demo]\ncity = "Hamburg"\n')
    settings = load_settings(path)
    assert settings.telemetry.poll_interval_s == 60
    assert settings.demo.city == "Hamburg"


def test_unknown_setting_is_named(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[telemetry]\npoll_intervall_s = 60\n")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "telemetry.poll_intervall_s: unknown setting" in str(info.value)


def test_invalid_value_is_named(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(
        '[telemetry]\npoll_interval_s = 1\n[iot.ports]\nomni = 70000\nlog_level = "LOUD"\n'
    )
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    text = str(info.value)
    assert "telemetry.poll_interval_s" in text and "greater than or equal to 10" in text
    assert "iot.ports.omni" in text


def test_broken_toml_is_reported(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[telemetry\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(path)


def test_live_mode_needs_client_id_and_secret(monkeypatch):
    settings = Settings.model_validate({"smartcar": {"client_id": "abc"}})
    monkeypatch.delenv("FLEET_SMARTCAR_CLIENT_SECRET", raising=False)
    assert not settings.live
    monkeypatch.setenv("FLEET_SMARTCAR_CLIENT_SECRET", "s3cret")
    assert settings.live


def test_data_dir_relocates_everything(tmp_path):
    paths = resolve_paths(tmp_path / "data").ensure()
    for path in (
        paths.database_file,
        paths.settings_file,
        paths.log_dir,
        paths.cache_dir,
        paths.backup_dir,
    ):
        assert (tmp_path / "data") in path.parents
    assert paths.log_dir.is_dir() and paths.backup_dir.is_dir()


def test_deeply_nested_toml_is_a_settings_error(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(SettingsError, match="nested too deeply"):
        load_settings(path)


@pytest.mark.parametrize("url", ["nosuchdialect://x", "not a url", "postgresql+nodriver://h/db"])
def test_unusable_database_url_is_named(tmp_path, url):
    path = tmp_path / "settings.toml"
    path.write_text(f'database_url = "{url}"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "database_url: " in str(info.value) and "not a usable database URL" in str(info.value)


def test_a_bad_database_url_is_not_echoed(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('database_url = "nosuchdialect://fleet:hunter2@db/fleet"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert "unknown dialect 'nosuchdialect'" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_serial_entries_accept_every_tcp_codec_and_refuse_others() -> None:
    """A serial port can carry any codec the gateway has (a Segway module on a UART, say);
    the list in the settings must not fall behind the codec registry."""
    for protocol in PROTOCOLS:
        entry = SerialDeviceSettings(port="/dev/ttyS0", device_id="1", protocol=protocol)
        assert entry.protocol == protocol
    with pytest.raises(ValueError):
        SerialDeviceSettings(port="/dev/ttyS0", device_id="1", protocol="mqtt-zimo")
