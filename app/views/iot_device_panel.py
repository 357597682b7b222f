"""The IoT device of the selected vehicle: identity, connection, live frame log, commands.

Shown in the detail panel's "Connection" group for IoT vehicles only (the Smartcar panel
covers connected cars). Lock / Unlock / Locate ask for a confirmation naming the vehicle;
while a command is in flight its button says so and every command button is disabled;
the outcome (confirmed, failed with the reason, timed out) stays visible. A button whose
state the vehicle is already in is disabled, saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from app.models.enums import CommandState, VehicleStatus
from app.models.iot_devices import DeviceInfo
from app.models.vehicles import VehicleRow
from app.services.access import READ_ONLY
from app.services.iot.commands import IotCommandEvent, IotCommandRefused
from app.services.iot.frame_log import FrameEntry
from app.services.iot.runtime import IotHandle, IotRuntime
from app.services.rentals.service import ReasonRequired
from app.views import formatting as fmt
from app.views.dialogs import Confirm, Prompt, ask_text
from app.views.lifetime import gone

logger = logging.getLogger(__name__)

ACTIONS = {
    "lock": ("Lock", "Locking…"),
    "unlock": ("Unlock", "Unlocking…"),
    "locate": ("Locate", "Locating…"),
}
STATE_WORDS = {
    CommandState.QUEUED: "queued (waiting for the device to come online)",
    CommandState.SENT: "sent, waiting for the device",
    CommandState.ACKNOWLEDGED: "acknowledged, waiting for the status report",
    CommandState.CONFIRMED: "confirmed",
    CommandState.FAILED: "failed",
    CommandState.TIMED_OUT: "timed out",
}
FRAME_LOG_ROWS = 200


def entry_line(entry: FrameEntry) -> str:
    arrow = {"in": "←", "out": "→"}.get(entry.direction, "·")
    return f"{entry.at:%H:%M:%S} {arrow} [{entry.status}] {entry.text}"


Preconditions = Callable[[int, str, str], Awaitable[str | None]]


class IotDevicePanel(QWidget):
    """Follows the selected vehicle; ``runtime`` is read late (the gateway starts later)."""

    def __init__(
        self,
        runtime: Callable[[], IotRuntime | None],
        iot: IotHandle,
        confirm: Confirm,
        *,
        read_only: bool,
        refusal: str | None = None,
        through_collector: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        """``refusal``: why the signed-in person may not send commands (None: they may).
        ``through_collector``: a shared-mode console, whose lock and unlock go through the
        collector (the Remote commands panel), as this console runs no gateway."""
        super().__init__(parent)
        self.setObjectName("iotDevicePanel")
        self._runtime = runtime
        self._iot = iot
        self._read_only = read_only
        self._refusal = refusal
        self._through_collector = through_collector
        self._confirm = confirm
        # The operator preconditions (not while moving; a reason during a rental), shared
        # with the car commands: RentalService.command_refusal. Set by the owner.
        self.preconditions: Preconditions | None = None
        self.prompt: Prompt = ask_text
        self.row: VehicleRow | None = None
        self.device: DeviceInfo | None = None
        self._attached: IotRuntime | None = None
        self._detach: list[Callable[[], None]] = []

        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, label in (
            ("protocol", "Protocol"),
            ("device_id", "IMEI / device id"),
            ("vendor", "Vendor"),
            ("firmware", "Firmware"),
            ("address", "Connection"),
            ("online", "Online"),
            ("heard", "Last heard"),
        ):
            value = QLabel()
            value.setObjectName(f"iot_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            form.addRow(label, value)
        self.buttons: dict[str, QPushButton] = {}
        bar = QHBoxLayout()
        for action, (text, _) in ACTIONS.items():
            button = QPushButton(text)
            button.setObjectName(f"iot_{action}")
            button.clicked.connect(lambda _c=False, a=action: self.command(a))
            self.buttons[action] = button
            bar.addWidget(button)
        self.outcome = QLabel()
        self.outcome.setObjectName("iot_outcome")
        self.outcome.setWordWrap(True)
        self.frame_log = QListWidget()
        self.frame_log.setObjectName("iot_frames")
        self.frame_log.setMinimumHeight(120)
        self.frame_log.setStyleSheet("font-family: monospace")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(bar)
        layout.addWidget(self.outcome)
        frames_title = QLabel("Frames (newest first)")
        layout.addWidget(frames_title)
        layout.addWidget(self.frame_log)
        if through_collector:  # the frames arrive at the collector's gateway, not here
            frames_title.hide()
            self.frame_log.hide()
            elsewhere = QLabel("The collector receives this device's frames (see its log).")
            elsewhere.setObjectName("iot_frames_elsewhere")
            layout.addWidget(elsewhere)

        self.timer = QTimer(self)  # online / last heard age, and the runtime appearing
        self.timer.setInterval(2000)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self.setVisible(False)

    # -- following the selection -------------------------------------------------------

    def show_vehicle(self, row: VehicleRow | None) -> None:
        is_iot = row is not None and row.connection_type == "iot"
        self.setVisible(is_iot)
        changed = (row.id if row else None) != (self.row.id if self.row else None)
        previous = self.row
        self.row = row if is_iot else None
        if row is None or not is_iot:
            self.device = None
            return
        heard_since = (
            not changed and previous is not None and (row.last_heard_at != previous.last_heard_at)
        )
        self._attach()
        if changed:
            self.device = None
            self.outcome.clear()
            self._fill_frames()
            self._load_device()
        elif heard_since and self._runtime() is None:
            # The collector runs the devices: what it learnt (protocol, firmware, when it
            # last heard the device) is in the device's row, so read it again.
            self._load_device()
        self._render()

    @asyncSlot()
    async def _load_device(self) -> None:
        row = self.row
        if row is None:
            return
        device = await self._iot.device(row.id)
        if gone(self):  # the window closed while the device was read
            return
        if self.row is not None and self.row.id == row.id:
            self.device = device
            self._fill_frames()
            self._render()

    def _attach(self) -> None:
        runtime = self._runtime()
        if runtime is self._attached:
            return
        for remove in self._detach:
            remove()
        self._detach = []
        self._attached = runtime
        if runtime is not None:
            self._detach = [
                runtime.ingest.frames.added.subscribe(self._on_frame),
                runtime.commands.events.subscribe(self._on_command),
            ]

    def _tick(self) -> None:
        if self.row is not None:
            was = self._attached
            self._attach()
            if was is None and self._attached is not None:
                self._load_device()
            self._render()

    # -- rendering -----------------------------------------------------------------------

    def _render(self) -> None:
        device, runtime = self.device, self._runtime()
        if device is None:
            for label in self.values.values():
                label.setText("—")
            self.values["device_id"].setText(self.row.imei or "—" if self.row else "—")
            self._render_buttons()
            return
        heard = runtime.ingest.heard(device.device_id) if runtime else None
        reader = runtime.serial_reader(device.device_id) if runtime else None
        now = datetime.now(UTC)
        if reader is not None:
            address = f"serial {reader.config.port} @ {reader.config.baudrate} baud"
        else:
            address = heard.address if heard else (device.address or "—")
            if device.transport == "serial":
                address = f"serial {device.serial_port} @ {device.baud} baud"
        if runtime is not None:
            online = runtime.link_state(device.device_id, device.protocol, now)
        elif self._through_collector:
            online = _through_collector(device, self.row, now)
        else:
            online = "IoT gateway not running"
        firmware = (heard.firmware if heard else None) or device.firmware
        last = heard.last_heard_at if heard else device.last_heard_at
        texts = {
            "protocol": device.protocol or "not known yet",
            "device_id": device.device_id,
            "vendor": device.vendor or "—",
            "firmware": firmware or "—",
            "address": address,
            "online": online,
            "heard": fmt.age(last, now) or "never",
        }
        for key, text in texts.items():
            self.values[key].setText(text)
        self._render_buttons()

    def _render_buttons(self) -> None:
        runtime, row = self._runtime(), self.row
        allowed = runtime.commands.allowed_actions(row.id) if runtime and row else ()
        handle = runtime.commands.latest.get(row.id) if runtime and row else None
        in_flight_action = handle.action if handle is not None and not handle.done else None
        for action, button in self.buttons.items():
            text, busy = ACTIONS[action]
            button.setText(busy if in_flight_action == action else text)
            reason = ""
            if self._read_only:
                reason = f"{READ_ONLY}, nothing is sent"
            elif self._refusal is not None:
                reason = self._refusal
            elif runtime is None and self._through_collector:
                reason = (
                    "On a shared database the collector runs the devices: lock and unlock "
                    "are under Remote commands"
                )
            elif runtime is None:
                reason = "The IoT gateway is not running in this console"
            elif action not in allowed:
                reason = "This device does not support it"
            elif in_flight_action is not None:
                reason = f"Waiting for the {in_flight_action} command to finish"
            elif row is not None and action == "lock" and row.locked is True:
                reason = "Already locked"
            elif row is not None and action == "unlock" and row.locked is False:
                reason = "Already unlocked"
            button.setEnabled(not reason)
            button.setToolTip(reason)

    def _fill_frames(self) -> None:
        self.frame_log.clear()
        runtime, device = self._runtime(), self.device
        if runtime is None or device is None:
            return
        self.frame_log.addItems(
            [entry_line(e) for e in runtime.ingest.frames.entries(device.device_id)]
        )

    def _on_frame(self, device_id: str, entry: FrameEntry) -> None:
        if self.device is None or device_id != self.device.device_id:
            return
        self.frame_log.insertItem(0, entry_line(entry))
        while self.frame_log.count() > FRAME_LOG_ROWS:
            self.frame_log.takeItem(self.frame_log.count() - 1)

    def _on_command(self, event: IotCommandEvent) -> None:
        if self.row is None or event.vehicle_id != self.row.id:
            return
        label = ACTIONS.get(event.action, (event.action.capitalize(), ""))[0]
        words = STATE_WORDS.get(event.state, str(event.state))
        failed = event.state in (CommandState.FAILED, CommandState.TIMED_OUT)
        detail = f": {event.detail}" if failed and event.detail else ""
        self.outcome.setText(f"{label} {words}{detail}")
        colour = (
            "#c62828" if failed else ("#2e7d32" if event.state is CommandState.CONFIRMED else "")
        )
        self.outcome.setStyleSheet(f"color: {colour}" if colour else "")
        self._render_buttons()

    # -- commands ------------------------------------------------------------------------

    @asyncSlot(str)
    async def command(self, action: str) -> None:
        runtime, row = self._runtime(), self.row
        if runtime is None or row is None or self._refusal is not None:
            return
        label = ACTIONS[action][0]
        question = f"{label} {row.name} [{row.fleet_number}]?"
        if action in ("lock", "unlock"):
            question += "\n\nThe command goes to the vehicle's IoT device now."
        if not await self._confirm(self, f"{label} vehicle", question):
            return
        reason = ""
        if self.preconditions is not None and action in ("lock", "unlock"):
            try:
                refusal = await self.preconditions(row.id, action, reason)
            except ReasonRequired as needed:
                reason = await self.prompt(self, "Reason required", str(needed)) or ""
                if not reason.strip():
                    self.outcome.setText(f"{label} cancelled: no reason given")
                    return
                refusal = await self.preconditions(row.id, action, reason)
            if refusal is not None:
                self.outcome.setText(f"{label} refused: {refusal}")
                self.outcome.setStyleSheet("color: #c62828")
                return
        for button in self.buttons.values():
            button.setEnabled(False)
        self.buttons[action].setText(ACTIONS[action][1])
        try:
            await runtime.commands.send(row.id, action, reason=reason.strip())
        except IotCommandRefused as refused:
            self.outcome.setText(f"{label} not sent: {refused}")
            self.outcome.setStyleSheet("color: #c62828")
        except Exception as exc:
            logger.exception("sending %s to vehicle %s failed", action, row.id)
            self.outcome.setText(f"{label} not sent: {exc}")
            self.outcome.setStyleSheet("color: #c62828")
        finally:
            self._render_buttons()


def _through_collector(device: DeviceInfo, row: VehicleRow | None, now: datetime) -> str:
    """A shared console's view of a device the collector runs: silent once the collector
    has made the vehicle Offline (twice its interval without a report), reporting before."""
    last = device.last_heard_at
    if last is None:
        return "Not heard yet (the collector runs the devices)"
    if row is not None and row.status == VehicleStatus.OFFLINE.value:
        return f"Silent since {fmt.age(last, now)} (through the collector)"
    return "Reporting (through the collector)"
