"""main.py as a user (and packaging) runs it: a real process, a real data dir."""

import os
import sqlite3
import stat
import subprocess
import sys
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"} | (env or {})
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
    )


def test_smoke_test_starts_seeds_and_exits_zero(tmp_path):
    result = run_main("--data-dir", str(tmp_path), "--smoke-test")
    assert result.returncode == 0, result.stderr
    assert "main window shown with 100 vehicles" in result.stderr
    assert "smoke test: map page loaded" in result.stderr
    assert "smoke test: zone drawing plugin loaded" in result.stderr
    assert "Smartcar simulator on http://127.0.0.1:" in result.stderr
    assert "IoT gateway with" in result.stderr
    assert (tmp_path / "fleet.sqlite").exists()
    assert (tmp_path / "logs" / "fleet-console.log").read_text().count("smoke test:") == 4
    with closing(sqlite3.connect(tmp_path / "fleet.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM vehicle").fetchone() == (100,)
    # Location history and logs are private to the user (0600 files, 0700 directories).
    for path in [tmp_path, *tmp_path.rglob("*")]:
        if "cache" not in path.relative_to(tmp_path).parts:  # map tiles: nothing private
            expected = 0o700 if path.is_dir() else 0o600
            assert stat.S_IMODE(path.stat().st_mode) == expected, path
    again = run_main("--data-dir", str(tmp_path), "--smoke-test")
    assert again.returncode == 0 and "main window shown with 100 vehicles" in again.stderr


def test_bad_settings_give_a_message_not_a_traceback(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.toml").write_text("[telemetry]\npoll_every = 5\n")
    result = run_main("--data-dir", str(tmp_path), "--smoke-test")
    assert result.returncode == 2
    assert "telemetry.poll_every: unknown setting" in result.stderr
    assert "Traceback" not in result.stderr


def test_unusable_database_gives_a_message(tmp_path):
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"garbage" * 1000)
    result = run_main("--data-dir", str(tmp_path), "--db", f"sqlite:///{broken}", "--smoke-test")
    assert result.returncode == 3
    assert "cannot open or migrate" in result.stderr and "Traceback" not in result.stderr
    assert broken.read_bytes() == b"garbage" * 1000  # nothing was overwritten


def test_without_a_display_the_console_says_why(tmp_path):
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}
    result = run_main("--data-dir", str(tmp_path), env=env)
    assert result.returncode == 2 and "no display found" in result.stderr


def test_review_mode_opens_read_only(tmp_path):
    assert run_main("--data-dir", str(tmp_path / "a"), "--smoke-test").returncode == 0
    copy = tmp_path / "review.sqlite"
    copy.write_bytes((tmp_path / "a" / "fleet.sqlite").read_bytes())
    before = copy.read_bytes()
    result = run_main("--data-dir", str(tmp_path / "b"), "--review", str(copy), "--smoke-test")
    assert result.returncode == 0, result.stderr
    assert "mode review" in result.stderr
    assert copy.read_bytes() == before


def _settings(data_dir: Path, text: str) -> None:
    (data_dir / "config").mkdir(parents=True, exist_ok=True)
    (data_dir / "config" / "settings.toml").write_text(text)


DEEP_TOML = "x = " + "[" * 50_000 + "]" * 50_000 + "\n"


def test_unknown_database_dialect_is_exit_2_in_console_and_collector(tmp_path):
    _settings(tmp_path, 'database_url = "nosuchdialect://x"\n')
    for args in (("--smoke-test",), ("collect",)):
        command = (
            (args[0], "--data-dir", str(tmp_path))
            if args[0] == "collect"
            else ("--data-dir", str(tmp_path), *args)
        )
        result = run_main(*command)
        assert result.returncode == 2, result.stderr
        assert "database_url: " in result.stderr and "unknown dialect" in result.stderr
        assert "Traceback" not in result.stderr


def test_deeply_nested_settings_are_exit_2_in_console_and_collector(tmp_path):
    _settings(tmp_path, DEEP_TOML)
    for command in (
        ("--data-dir", str(tmp_path), "--smoke-test"),
        ("collect", "--data-dir", str(tmp_path)),
    ):
        result = run_main(*command)
        assert result.returncode == 2, result.stderr
        assert "nested too deeply" in result.stderr and "Traceback" not in result.stderr


def test_an_unusable_db_option_is_a_message(tmp_path):
    result = run_main("--data-dir", str(tmp_path), "--db", "nosuchdialect://x", "--smoke-test")
    assert result.returncode == 3
    assert "cannot use the database URL" in result.stderr and "Traceback" not in result.stderr
