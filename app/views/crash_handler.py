"""Unhandled exceptions: logged in full, shown to the operator in plain words.

An exception in a slot must not kill a dispatcher's 12-hour session silently; the
excepthook logs the traceback and shows a dialog that names the log file. In smoke-test
mode there is nobody to read a dialog, so the error is counted and the exit code says it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

logger = logging.getLogger(__name__)


class CrashHandler:
    def __init__(self, log_file: Path, *, interactive: bool) -> None:
        self.log_file = log_file
        self.interactive = interactive
        self.errors = 0
        self._box: QMessageBox | None = None

    def install(self) -> None:
        sys.excepthook = self.__call__

    def __call__(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        self.errors += 1
        logger.critical("unhandled error", exc_info=(kind, value, tb))
        if not self.interactive or self._box is not None or QApplication.instance() is None:
            return
        # open(), never exec(): this hook can run inside a coroutine's exception path, and
        # a modal loop entered there stops every other task (see app/views/dialogs.py).
        box = QMessageBox(QMessageBox.Icon.Critical, "Fleet Console: unexpected error", "")
        box.setObjectName("crashBox")
        box.setText(
            f"Something went wrong: {value}\n\nThe console keeps running. The details are in "
            f"{self.log_file}; please send that file to support."
        )
        box.setDetailedText("".join(traceback.format_exception(kind, value, tb)))
        box.finished.connect(lambda _result: self._closed())
        self._box = box
        box.open()

    def _closed(self) -> None:
        if self._box is not None:
            self._box.deleteLater()
        self._box = None
