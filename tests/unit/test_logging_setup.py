"""Log redaction, and logging that survives a log file it cannot open or write."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from app.logging_setup import LogFileHandler, RedactingFormatter, redact, setup_logging


@pytest.fixture
def restore_root_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "redirect http://127.0.0.1:8765/smartcar/callback?code=AUTHCODE42&state=ST8TE",
            "AUTHCODE42",
        ),
        ("redirect http://127.0.0.1:8765/smartcar/callback?code=AUTHCODE42&state=ST8TE", "ST8TE"),
        (
            "token request grant_type=authorization_code&code=AUTHCODE42&redirect_uri=x",
            "AUTHCODE42",
        ),
        ('{"access_token": "AT.abc-123", "token_type": "Bearer"}', "AT.abc-123"),
        ('{"refresh_token":"RT_zzz"}', "RT_zzz"),
        ("client_secret=SEKRIT&client_id=abc", "SEKRIT"),
        ("headers {'Authorization': 'Bearer eyJhbGciOi.x.y'}", "eyJhbGciOi.x.y"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("authorization=SomeRawKey123", "SomeRawKey123"),
        ('{"code": "AUTHCODE42", "state": "ST8TE"}', "AUTHCODE42"),
    ],
)
def test_secrets_are_redacted(text, secret) -> None:
    cleaned = redact(text)
    assert secret not in cleaned and "[redacted]" in cleaned


def test_ordinary_text_is_left_alone() -> None:
    text = "HTTP 500 from /vehicles (error code VEHICLE_STATE, status code 409)"
    assert redact(text) == text


def test_an_exception_carrying_the_redirect_url_is_redacted_in_the_traceback() -> None:
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError("bad redirect http://127.0.0.1/cb?code=AUTHCODE42&state=ST8TE")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "login failed", None, True)
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert "ValueError: bad redirect" in text
    assert "AUTHCODE42" not in text and "ST8TE" not in text


@pytest.mark.expect_log("app.logging_setup", r"cannot write the log file")
@pytest.mark.expect_log("fleet.test", r"still heard")
def test_an_unopenable_log_dir_means_stderr_only(tmp_path, capsys, restore_root_logging) -> None:
    blocked = tmp_path / "logs"
    blocked.write_text("a file where the log directory should be")
    assert setup_logging(blocked) is None
    logging.getLogger("fleet.test").warning("still heard")
    err = capsys.readouterr().err
    assert "cannot write the log file" in err and "logging to stderr only" in err
    assert "still heard" in err and "Traceback" not in err


def test_a_full_disk_is_reported_once_not_per_line(capsys) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full (a device that always answers 'no space left')")
    handler = LogFileHandler(Path("/dev/full"))
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for n in range(200):
            handler.handle(
                logging.LogRecord("x", logging.INFO, __file__, 1, f"line {n}", None, None)
            )
    finally:
        handler.close()
    err = capsys.readouterr().err
    assert err.count("cannot write the log file /dev/full") == 1
    assert "No space left on device" in err
    assert "Logging error" not in err and "Traceback" not in err
    assert handler.lost == 200
