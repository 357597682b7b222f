"""Lock / Unlock for a connected Smartcar car, in the detail panel.

Every press goes through the one command service (``RentalService.guarded_command``), so
the console's preconditions apply as in the rental flow: a moving car is not unlocked, a
car in a rental needs a reason for the audit trail. A car whose motion is unknown (no
speed, too few positions) may be unlocked by hand, but the question says "Motion
unknown". The outcome shown is the one the service read back from the car, not the one
the operator asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton
from qasync import asyncSlot

from app.models.vehicles import VehicleRow
from app.services.commands.senders import CommandOutcome
from app.services.rentals.motion import Motion
from app.services.rentals.service import ReasonRequired, RentalService
from app.views.dialogs import Confirm, Prompt, ask_text

logger = logging.getLogger(__name__)

#: Told after every command, so the owner can re-read the vehicle's list row.
Finished = Callable[[int, CommandOutcome], None]

_IN_FLIGHT = {"lock": "Locking…", "unlock": "Unlocking…"}
_DONE = {"lock": "Locked", "unlock": "Unlocked"}


class VehicleCommandsPanel(QGroupBox):
    """Shown for Smartcar cars with an active connection, and on a shared database for IoT
    vehicles too (never in review mode)."""

    def __init__(
        self,
        rentals: Callable[[], RentalService],
        confirm: Confirm,
        *,
        prompt: Prompt = ask_text,
        finished: Finished | None = None,
        read_only: bool = False,
        refusal: str | None = None,
        iot_through_collector: bool = False,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        """``refusal``: why the signed-in person may not send commands (buttons disabled
        and the reason shown), None if they may. ``iot_through_collector``: a console on a
        shared database, where the collector also commands the IoT vehicles (this console
        runs no gateway), so the panel is theirs too."""
        super().__init__("Remote commands")
        self.setObjectName("vehicleCommandsPanel")
        self._rentals = rentals
        self._confirm = confirm
        self.prompt = prompt
        self._finished = finished
        self._read_only = read_only
        self.refusal = refusal
        self._iot_through_collector = iot_through_collector
        self._clock = clock
        self.row: VehicleRow | None = None
        self.in_flight: str | None = None
        self.lock_button = QPushButton("Lock")
        self.lock_button.setObjectName("remoteLock")
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setObjectName("remoteUnlock")
        self.lock_button.clicked.connect(lambda: self.run("lock"))
        self.unlock_button.clicked.connect(lambda: self.run("unlock"))
        self.status = QLabel("")
        self.status.setObjectName("remoteCommandStatus")
        self.status.setWordWrap(True)
        layout = QHBoxLayout(self)
        for widget in (self.lock_button, self.unlock_button):
            layout.addWidget(widget)
        layout.addWidget(self.status, 1)
        self.show_vehicle(None)

    def button(self, action: str) -> QPushButton:
        return self.lock_button if action == "lock" else self.unlock_button

    def show_vehicle(self, row: VehicleRow | None) -> None:
        if row is None or self.row is None or row.id != self.row.id:
            self.status.setText(self.refusal or "")
        self.row = row
        smartcar = (
            row is not None
            and row.connection_type == "smartcar"
            and row.connection_status == "active"
        )
        iot = self._iot_through_collector and row is not None and row.connection_type == "iot"
        commandable = not self._read_only and (smartcar or iot)
        self.setVisible(commandable)
        self._update_buttons()

    def _update_buttons(self) -> None:
        locked = self.row.locked if self.row is not None else None
        idle = self.in_flight is None and self.refusal is None
        # The button for the state the car is already in has nothing to do.
        self.lock_button.setEnabled(idle and locked is not True)
        self.unlock_button.setEnabled(idle and locked is not False)
        for action in ("lock", "unlock"):
            text = _IN_FLIGHT[action] if self.in_flight == action else action.capitalize()
            self.button(action).setText(text)
            self.button(action).setToolTip(self.refusal or "")

    @asyncSlot(str)
    async def run(self, action: str) -> None:
        """Confirm, send through guarded_command (asking for a reason if it needs one)."""
        row = self.row
        if row is None or self.in_flight is not None or self.refusal is not None:
            return
        verb = action.capitalize()
        question = f"{verb} {row.name} [{row.fleet_number}]?"
        if action == "unlock":
            question += await self._motion_warning(row)
        if not await self._confirm(self, f"{verb} vehicle", question):
            return
        self.in_flight = action
        self._update_buttons()
        self.status.setText("")
        try:
            outcome = await self._send(row, action)
        finally:
            self.in_flight = None
            self._update_buttons()
        if outcome is None:
            text = "Cancelled: no reason given"
        elif outcome.ok:
            text = f"{_DONE[action]} ✓ {self._clock().strftime('%H:%M')}"
        else:
            text = f"Failed: {outcome.error}"
        if self.row is not None and self.row.id == row.id:
            self.status.setText(text)
        if outcome is not None and self._finished is not None:
            self._finished(row.id, outcome)

    async def _motion_warning(self, row: VehicleRow) -> str:
        """A manual unlock of a car whose motion is unknown is the operator's call (a
        moving one is refused by the service); the question says so, not silently."""
        try:
            verdict = await self._rentals().motion(row.id)
        except Exception:  # the question still goes out; the service checks again
            logger.exception("judging the motion of vehicle %d failed", row.id)
            return "\n\nMotion unknown: it could not be judged. Make sure it is parked."
        if verdict.motion is Motion.UNKNOWN:
            return f"\n\n{verdict.text} Make sure it is parked."
        return ""

    async def _send(self, row: VehicleRow, action: str) -> CommandOutcome | None:
        rentals = self._rentals()
        try:
            try:
                return await rentals.guarded_command(row.id, action)
            except ReasonRequired as exc:
                reason = await self.prompt(self, "Reason required", str(exc))
                if reason is None or not reason.strip():
                    return None
                return await rentals.guarded_command(row.id, action, reason)
        except Exception as exc:  # a broken command must never take the console down
            logger.exception("remote %s of vehicle %d failed", action, row.id)
            return CommandOutcome(False, action, str(exc) or type(exc).__name__)
