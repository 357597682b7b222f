"""Logging for the console and the headless tools: a rotating file plus stderr.

Qt-free on purpose (the collector and the simulators use it too); Qt's own messages are
routed in by ``app.views.qt_logging``. Secrets never reach a log line: the Smartcar
client redacts tokens before it logs, and ``RedactingFormatter`` is a second line of
defence for anything shaped like a token, secret or OAuth code that slips into a message
or into the text of a logged exception (an OAuth error carries its redirect URL).

A log that cannot be written must not take the program down nor bury stderr: a log
directory that cannot be opened means stderr only (with one warning), and a log file
that stops taking writes (disk full) is reported once, then at most every
``LogFileHandler.REPORT_EVERY_S`` seconds with the count of lines lost.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import re
import sys
import time
from pathlib import Path

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(authorization[\"']?\s*[=:]\s*[\"']?basic\s+)[A-Za-z0-9+/=]+"),
    re.compile(r"(?i)(authorization[\"']?\s*[=:]\s*[\"']?)(?!bearer\s|basic\s)[^\s\"',;]+"),
    re.compile(r"(?i)((?:access|refresh|id)_token[\"'=:\s]+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(client_secret[\"'=:\s]+)[^\s&\"',]+"),
    # OAuth redirect and token-request parameters (RFC 6749 4.1.2): the authorization
    # code can be exchanged for tokens, and the state ties a login to its browser.
    re.compile(r"(?i)([?&#;]\s*(?:code|state)=)[^&\s\"'#]+"),
    re.compile(r"(?i)([\"'](?:code|state)[\"']\s*:\s*[\"'])[^\"']+"),
)


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats a record, its exception and stack, then redacts the whole text."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class LogFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file that reports its own write failures sparingly, on stderr.

    The standard handler prints a "--- Logging error ---" block with a traceback for
    every record it fails to write: hundreds a minute when the disk is full.
    """

    REPORT_EVERY_S = 300.0

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
        self.lost = 0
        self._reported_at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        lost = self.lost
        super().emit(record)  # calls handleError on failure
        if self._reported_at is not None and self.lost == lost:
            sys.stderr.write(
                f"fleet console: writing the log file {self.baseFilename} again "
                f"({self.lost} line(s) were lost)\n"
            )
            self.lost, self._reported_at = 0, None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a full disk refuses the final flush too
            super().close()

    def handleError(self, record: logging.LogRecord) -> None:
        self.lost += 1
        error = sys.exc_info()[1]
        now = time.monotonic()
        if self._reported_at is None or now - self._reported_at >= self.REPORT_EVERY_S:
            first = self._reported_at is None
            self._reported_at = now
            what = "cannot write" if first else "still cannot write"
            sys.stderr.write(
                f"fleet console: {what} the log file {self.baseFilename} ({error}); "
                f"{self.lost} line(s) lost so far, they still go to stderr\n"
            )


def setup_logging(
    log_dir: Path, level: str = "INFO", *, file_name: str = "fleet-console.log"
) -> Path | None:
    """Log to ``log_dir/file_name`` (5 x 2 MB, rotated) and to stderr; returns the file,
    or None when it cannot be opened (stderr only, said once as a warning)."""
    log_file: Path | None = log_dir / file_name
    formatter = RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    problem = None
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(LogFileHandler(log_dir / file_name))
    except OSError as exc:
        problem, log_file = f"cannot write the log file {log_dir / file_name} ({exc})", None
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fleet_console", False):
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        handler._fleet_console = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if problem:
        logging.getLogger(__name__).warning("%s: logging to stderr only", problem)
    return log_file


class RecurringProblem:
    """A failure that repeats while its cause lasts (a full disk, a server gone).

    Logged when it starts (with the traceback, once), then at most every ``every_s``
    seconds with how often it happened meanwhile, and once when it ends: forty seconds of
    a full disk are three log lines, not a thousand tracebacks.
    """

    def __init__(self, logger: logging.Logger, what: str, every_s: float = 60.0) -> None:
        self._logger = logger
        self.what = what
        self.every_s = every_s
        self.failures = 0
        self.since: float | None = None
        self._reported_at = 0.0

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self.failures += 1
        if self.since is None:
            self.since = self._reported_at = now
            self._logger.error("%s failed, will retry: %s", self.what, exc, exc_info=exc)
        elif now - self._reported_at >= self.every_s:
            self._reported_at = now
            self._logger.error(
                "%s still failing (%d times in %.0f s): %s",
                self.what,
                self.failures,
                now - self.since,
                exc,
            )

    def recovered(self) -> None:
        if self.since is not None:
            self._logger.info(
                "%s works again (after %d failures in %.0f s)",
                self.what,
                self.failures,
                time.monotonic() - self.since,
            )
        self.since, self.failures = None, 0
