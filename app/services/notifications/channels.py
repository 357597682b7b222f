"""The e-mail channel (SMTP through aiosmtplib) and what every channel looks like.

A channel says whether it can send at all (``unavailable``: no SMTP server set, no system
tray on this desktop) and sends one message, raising :class:`SendFailed` with an
operator-readable reason. ``permanent`` failures are not retried: a refused login or a
refused recipient stays refused until someone changes the settings. The SMTP password
comes from ``FLEET_SMTP_PASSWORD`` at each send and never appears in a log, a record or
an error text. The desktop channel is Qt and lives in app.views.notification_tray.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from app.config import SMTP_PASSWORD_ENV, EmailSettings


class SendFailed(Exception):
    """One attempt failed; ``str()`` is the reason shown to the operator."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Channel(Protocol):
    """A way out of the console: ``name`` is "email" or "desktop" (the settings' section)."""

    name: str

    def unavailable(self) -> str | None:
        """Why this channel cannot send at all now (None: it can)."""

    def recipients(self) -> tuple[str, ...]:
        """Who each alert goes to on this channel."""

    async def send(self, recipient: str, subject: str, body: str) -> None:
        """Send one message; raises SendFailed."""


def workstation(login: str | None) -> str:
    """The desktop channel's recipient: "bob@ws-12" (the database login on this host) on
    a shared database, where every console's rows are in one table and each sends only its
    own, "this workstation" on a single-user one. The database's row rule lets a login
    record desktop rows named after itself only (app.models.roles)."""
    return "this workstation" if login is None else f"{login}@{socket.gethostname()}"


class EmailChannel:
    """E-mail through the SMTP server of ``[notifications.email]``."""

    name = "email"

    def __init__(
        self,
        settings: EmailSettings,
        password: Callable[[], str | None] = lambda: os.environ.get(SMTP_PASSWORD_ENV),
    ) -> None:
        self._settings = settings
        self._password = password

    @property
    def server(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def unavailable(self) -> str | None:
        if not self._settings.host:
            return "no SMTP server set ([notifications.email] host)"
        if not self._settings.recipients:
            return "no recipients set ([notifications.email] recipients)"
        return None

    def recipients(self) -> tuple[str, ...]:
        return self._settings.recipients

    async def send(self, recipient: str, subject: str, body: str) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = recipient
        message["Subject"] = subject
        message.set_content(body)
        password = self._password() if s.username else None
        if s.username and not password:
            raise SendFailed(f"no password for {s.username!r}: set {SMTP_PASSWORD_ENV}")
        try:
            # The whole conversation is bounded: a server that accepts and then stalls, or
            # answers a byte at a time, fails this attempt instead of holding the sender.
            async with asyncio.timeout(s.timeout_s):
                await aiosmtplib.send(
                    message,
                    hostname=s.host,
                    port=s.port,
                    use_tls=s.security == "tls",
                    start_tls=s.security == "starttls",
                    username=s.username or None,
                    password=password,
                    cert_bundle=s.ca_file or None,
                    timeout=s.timeout_s,
                )
        except TimeoutError:  # aiosmtplib's own timeouts are TimeoutErrors too
            raise SendFailed(
                f"SMTP server {self.server} did not answer within {s.timeout_s:g} s"
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SendFailed(
                f"login refused by {self.server} for {s.username!r}: {exc.code} {exc.message}",
                permanent=True,
            ) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(r.recipient for r in exc.recipients)
            raise SendFailed(
                f"recipient refused by {self.server}: {refused}", permanent=True
            ) from None
        except aiosmtplib.SMTPConnectError as exc:
            raise SendFailed(f"cannot connect to SMTP server {self.server}: {_why(exc)}") from None
        except aiosmtplib.SMTPException as exc:
            raise SendFailed(f"SMTP server {self.server}: {exc}") from None
        except OSError as exc:
            raise SendFailed(f"cannot reach SMTP server {self.server}: {_why(exc)}") from None


def _why(exc: BaseException) -> str:
    """The system's words for a failed connection ("Connection refused"), not the wrapped
    exception's repetition of host and port."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
    if isinstance(cause, OSError) and cause.errno:
        return os.strerror(cause.errno)
    return str(exc)
