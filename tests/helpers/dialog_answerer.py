"""Answers the console's real confirmation boxes and prompts during a scripted shift.

The answers come from a Qt timer, not from the driving coroutine, on purpose: if the code
under test opens a box with ``exec()`` from a coroutine (a nested event loop, house rule
6), no coroutine of the shift can run until the box is closed, and a coroutine-based click
would wait forever. The timer still fires inside the nested loop, so it can close the box,
and it records that the loop was nested (an asyncio task was executing while the box was
on screen), which is how a step then fails with the reason instead of hanging.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QInputDialog, QMessageBox, QWidget

POLL_MS = 20
REASON = "shift test"  # what the operator types when a command asks for a reason


@dataclass(frozen=True)
class Answered:
    """One dialog the answerer closed, and how it had been opened."""

    kind: str  # "confirm", "prompt", "message" or "dialog"
    object_name: str
    title: str
    text: str
    cancel_is_default: bool
    nested: bool  # shown while an asyncio task was executing: exec() inside a coroutine

    def describe(self) -> str:
        how = "exec() inside a coroutine (nested event loop)" if self.nested else "open()"
        return f"{self.kind} {self.object_name or '(no objectName)'} {self.title!r} via {how}"


class DialogAnswerer:
    """Says Yes to confirmations, types :data:`REASON` into prompts, dismisses messages.

    Other dialogs are left to the shift's steps, except a modal one shown from a nested
    event loop (``exec()``): that one is rejected (and recorded) so the console can go on.
    Tool windows (non-modal) stay open whatever the loop is doing.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.answered: list[Answered] = []
        self._timer = QTimer()
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def since(self, mark: int, kind: str | None = None) -> list[Answered]:
        """What was answered after ``len(self.answered)`` was ``mark`` (of one kind)."""
        return [a for a in self.answered[mark:] if kind is None or a.kind == kind]

    def _tick(self) -> None:
        nested = asyncio.current_task(self._loop) is not None
        for widget in QApplication.topLevelWidgets():
            if widget.isVisible() and isinstance(widget, QDialog):
                self._answer(widget, nested)

    def _answer(self, dialog: QDialog, nested: bool) -> None:
        if isinstance(dialog, QMessageBox):
            yes = dialog.button(QMessageBox.StandardButton.Yes)
            button = yes or dialog.button(QMessageBox.StandardButton.Ok)
            kind = "confirm" if yes is not None else "message"
            cancel = dialog.button(QMessageBox.StandardButton.Cancel)
            default_cancel = cancel is not None and dialog.defaultButton() is cancel
            self._record(kind, dialog, dialog.text(), default_cancel, nested)
            if button is not None:
                button.click()
            else:
                dialog.reject()
        elif isinstance(dialog, QInputDialog):
            self._record("prompt", dialog, dialog.labelText(), False, nested)
            dialog.setTextValue(REASON)
            dialog.accept()
        elif nested and dialog.windowModality() != Qt.WindowModality.NonModal:
            self._record("dialog", dialog, "", False, nested)
            dialog.reject()

    def _record(self, kind: str, dialog: QWidget, text: str, cancel: bool, nested: bool) -> None:
        self.answered.append(
            Answered(kind, dialog.objectName(), dialog.windowTitle(), text, cancel, nested)
        )
