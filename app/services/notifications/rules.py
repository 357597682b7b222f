"""Which alerts go out on which channel, when, and how often a failed send is retried.

Pure functions (no clock, no database, no network) so the rules are tested on their own:
a channel takes an alert when it is enabled, the alert's kind is among its ``kinds`` (empty:
every kind) and its severity is at least ``min_severity``; during quiet hours only
critical alerts go out, on every channel; a failed send is retried with a doubling delay
until ``max_attempts`` are used, except where retrying cannot help (a refused login).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from app.config import ChannelRules, NotificationSettings
from app.models.alerts import SEVERITY_RANK, OpenAlert
from app.services.alerts.rules import LABELS, AlertKind

#: The longest wait between two attempts, however many failed before.
MAX_RETRY_S = 15 * 60.0


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window in local time; ``start`` > ``end`` crosses midnight (22:00-06:00)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Whether ``moment`` lies in the window (start included, end excluded; a window
        that starts where it ends is empty)."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def parse_quiet_hours(text: str) -> QuietHours | None:
    """ "22:00-06:00" -> QuietHours; "" -> None (the settings have checked the form)."""
    if not text:
        return None
    start, _, end = text.partition("-")
    return QuietHours(time.fromisoformat(_padded(start)), time.fromisoformat(_padded(end)))


def _padded(part: str) -> str:
    hours, _, minutes = part.strip().partition(":")
    return f"{int(hours):02d}:{minutes}"


def channel_takes(rules: ChannelRules, kind: str, severity: str, *, quiet: bool) -> bool:
    """Whether a channel with ``rules`` sends an alert of ``kind`` and ``severity`` now
    (``quiet``: it is quiet hours)."""
    if not rules.enabled or (rules.kinds and kind not in rules.kinds):
        return False
    if quiet and severity != "critical":
        return False
    rank = SEVERITY_RANK.get(severity, len(SEVERITY_RANK))
    return rank <= SEVERITY_RANK[rules.min_severity]


def retry_delay_s(settings: NotificationSettings, attempts: int) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones (None: give up)."""
    if attempts >= settings.max_attempts:
        return None
    return min(MAX_RETRY_S, settings.retry_first_s * 2 ** max(0, attempts - 1))


def compose(alert: OpenAlert, vehicle: str, local: datetime) -> tuple[str, str]:
    """The subject and body of a notification about ``alert`` on ``vehicle`` ("Name [no.]");
    ``local`` is its first sighting in the console's time zone."""
    try:
        label = LABELS[AlertKind(alert.kind)]
    except ValueError:  # a kind added elsewhere without a label yet
        label = alert.kind.replace("_", " ").capitalize()
    subject = f"[Fleet Console] {alert.severity.capitalize()}: {label} - {vehicle}"
    body = "\n".join(
        (
            f"{label} ({alert.severity}) on {vehicle}",
            "",
            alert.message,
            "",
            f"First seen: {local:%Y-%m-%d %H:%M:%S %Z}",
            f"Alert id: {alert.id}",
            "",
            "Acknowledge it in Fleet Console: Operations > Alerts (Ctrl+Shift+A).",
        )
    )
    return subject, body
