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
        self._showing = False

    def install(self) -> None:
        sys.excepthook = self.__call__

    def __call__(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        self.errors += 1
        logger.critical("unhandled error", exc_info=(kind, value, tb))
        if not self.interactive or self._showing or QApplication.instance() is None:
            return
        self._showing = True
        try:
            box = QMessageBox(QMessageBox.Icon.Critical, "Fleet Console: unexpected error", "")
            box.setText(
                f"Something went wrong: {value}\n\nThe console keeps running. The details are in "
                f"{self.log_file}; please send that file to support."
            )
            box.setDetailedText("".join(traceback.format_exception(kind, value, tb)))
            box.exec()
        finally:
            self._showing = False
