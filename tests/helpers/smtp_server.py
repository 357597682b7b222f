"""A real SMTP server process for the notification tests: aiosmtpd in a child process.

``SmtpServer(port, maildir).start()`` runs ``python -m tests.helpers.smtp_server`` on
127.0.0.1:port; every message it accepts is written to ``maildir`` (the raw message, and
its envelope recipients beside it), so a test reads what really crossed the wire.
``refuse_login`` makes it advertise AUTH and refuse every login (535). ``stop`` and
``start`` again (same port) is a server that was down and came back.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
READY = "smtp server ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    def __init__(
        self,
        port: int,
        maildir: Path,
        *,
        refuse_login: bool = False,
        login: str = "",
        tls: tuple[Path, Path] | None = None,
        implicit_tls: bool = False,
    ) -> None:
        """``login`` "user:password" is the one login accepted (and required); ``tls``
        (certificate, key) offers STARTTLS, or with ``implicit_tls`` speaks TLS at once."""
        self.port = port
        self.maildir = maildir
        self.refuse_login = refuse_login
        self.login = login
        self.tls = tls
        self.implicit_tls = implicit_tls
        self._process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 15.0) -> None:
        self.maildir.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable,
            "-m",
            "tests.helpers.smtp_server",
            str(self.port),
            str(self.maildir),
        ]
        if self.refuse_login:
            args.append("--refuse-login")
        if self.login:
            args += ["--login", self.login]
        if self.tls is not None:
            args += ["--tls", str(self.tls[0]), str(self.tls[1])]
        if self.implicit_tls:
            args.append("--implicit-tls")
        self._process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout)
        line = self._process.stdout.readline() if ready else ""
        if READY not in line:
            self.stop()
            raise RuntimeError(f"the SMTP server did not start on port {self.port}: {line!r}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        """(envelope recipients, message) of everything accepted, in arrival order."""
        found = []
        for path in sorted(self.maildir.glob("*.eml"), key=lambda p: int(p.stem)):
            rcpt = json.loads(path.with_suffix(".json").read_text())
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append((rcpt, message))
        return found


class _Maildir:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._count = len(list(directory.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._count += 1
        base = self._directory / str(self._count)
        base.with_suffix(".json").write_text(json.dumps(list(envelope.rcpt_tos)))
        base.with_suffix(".eml").write_bytes(envelope.original_content)  # written last
        return "250 OK"


def _main() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("maildir", type=Path)
    parser.add_argument("--refuse-login", action="store_true")
    parser.add_argument("--login", default="")
    parser.add_argument("--tls", nargs=2, type=Path)
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()
    options: dict[str, Any] = {}
    if args.refuse_login:
        options = {
            "authenticator": lambda *_args: AuthResult(success=False, handled=False),
            "auth_require_tls": False,
            "auth_required": True,
        }
    elif args.login:
        user, _, password = args.login.partition(":")

        def check(_server: Any, _session: Any, _envelope: Any, _mech: str, data: Any) -> Any:
            ok = data.login == user.encode() and data.password == password.encode()
            return AuthResult(success=ok)

        options = {"authenticator": check, "auth_required": True}
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
        if args.implicit_tls:
            options["ssl_context"] = context
            options["auth_require_tls"] = False  # the whole session is TLS already
        else:
            options.update(tls_context=context, require_starttls=True)
    controller = Controller(_Maildir(args.maildir), hostname="127.0.0.1", port=args.port, **options)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(READY, flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    _main()
