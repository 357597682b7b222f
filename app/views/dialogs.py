"""Dialogs awaited from coroutines: the one way the console asks the operator anything.

Under qasync a coroutine that calls ``QDialog.exec()`` (or ``QMessageBox.question``)
starts a second Qt event loop inside the first; asyncio then tries to step other tasks
from inside the running one and they die with "Cannot enter into task ... while another
task ... is being executed" (seen: every background worker stopped after the first
Unlock confirmation). So nothing here blocks: :func:`run_dialog` opens the dialog
window-modal with ``open()`` and awaits a future that its ``finished`` signal resolves,
while the loop keeps serving IoT frames, polls and redraws.

Risky questions (unlock, archive, cancel a check-in) default to Cancel, so an Enter
pressed by habit never confirms them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QLineEdit, QMessageBox, QWidget

Confirm = Callable[[QWidget, str, str], Awaitable[bool]]
"""``await confirm(parent, title, text)``: True when the operator said yes."""

Prompt = Callable[[QWidget, str, str], Awaitable[str | None]]
"""``await prompt(parent, title, label)``: the text entered, None when cancelled."""


async def run_dialog(dialog: QDialog) -> int:
    """Show ``dialog`` window-modal and return its result code once it is closed.

    If the awaiting coroutine is cancelled (the window closes, the console quits) the
    dialog is rejected so no orphan stays on screen.
    """
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not future.done():
            future.set_result(result)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await future
    except asyncio.CancelledError:
        dialog.reject()
        raise
    finally:
        dialog.finished.disconnect(finished)


async def ask(parent: QWidget | None, title: str, text: str, *, risky: bool = True) -> bool:
    """Yes / Cancel question; Cancel is the default button unless ``risky`` is False."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        title,
        text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setObjectName("confirmBox")
    default = QMessageBox.StandardButton.Cancel if risky else QMessageBox.StandardButton.Yes
    box.setDefaultButton(default)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    await run_dialog(box)
    yes = box.button(QMessageBox.StandardButton.Yes)
    answer = box.clickedButton() is yes
    box.deleteLater()
    return answer


async def ask_text(parent: QWidget | None, title: str, label: str) -> str | None:
    """One line of text (a reason, a note); None when cancelled."""
    dialog = QInputDialog(parent)
    dialog.setObjectName("promptDialog")
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
    result = await run_dialog(dialog)
    text = dialog.textValue()
    dialog.deleteLater()
    return text if result == QDialog.DialogCode.Accepted else None


async def inform(parent: QWidget | None, title: str, text: str, *, error: bool = False) -> None:
    """A message the operator must see and dismiss (a failed export, a refused action)."""
    icon = QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("informBox")
    await run_dialog(box)
    box.deleteLater()


async def ask_save_path(
    parent: QWidget | None, title: str, suggested: str, name_filter: str
) -> Path | None:
    """Where to save a file (an export); None when cancelled.

    ``QFileDialog.getSaveFileName`` would run its own event loop, like ``exec()``.
    """
    dialog = QFileDialog(parent, title, suggested, name_filter)
    dialog.setObjectName("saveFileDialog")
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    result = await run_dialog(dialog)
    chosen = dialog.selectedFiles()
    dialog.deleteLater()
    return Path(chosen[0]) if result == QDialog.DialogCode.Accepted and chosen else None
