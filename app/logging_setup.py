"""Logging for the console and the headless tools: a rotating file plus stderr.

Qt-free on purpose (the collector and the simulators use it too); Qt's own messages are
routed in by ``app.views.qt_logging``. Secrets never reach a log record: the Smartcar
client redacts tokens before it logs, and ``RedactingFilter`` is a second line of defence
for any bearer token or ``client_secret`` that slips into a message.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:access|refresh)_token[\"'=:\s]+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(client_secret[\"'=:\s]+)[^\s&\"',]+"),
    re.compile(r"(?i)(authorization[\"'=:\s]+basic\s+)[A-Za-z0-9+/=]+"),
)


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    """Replaces anything shaped like a token or client secret with ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def setup_logging(
    log_dir: Path, level: str = "INFO", *, file_name: str = "fleet-console.log"
) -> Path:
    """Log to ``log_dir/file_name`` (5 x 2 MB, rotated) and to stderr; returns the file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / file_name
    formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    stderr_handler = logging.StreamHandler()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fleet_console", False):
            root.removeHandler(handler)
            handler.close()
    for handler in (file_handler, stderr_handler):
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        handler._fleet_console = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return log_file
