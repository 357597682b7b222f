"""A stand-in for the console's tray (Qt's needs a desktop): what one workstation showed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Desktop:
    """Implements app.services.notifications.channels.Channel, as TrayChannel does."""

    recipient: str
    name: str = "desktop"
    shown: list[tuple[str, str]] = field(default_factory=list)

    def unavailable(self) -> str | None:
        return None

    def recipients(self) -> tuple[str, ...]:
        return (self.recipient,)

    async def send(self, recipient: str, subject: str, body: str) -> None:
        self.shown.append((recipient, subject))
