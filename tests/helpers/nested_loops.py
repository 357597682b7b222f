"""A guard that turns any modal event loop entered under the running asyncio loop into a
test failure.

Under qasync, ``QDialog.exec()`` and the static ``QMessageBox.question`` & co. start a
second Qt event loop inside the first; asyncio then steps other tasks from inside the
running one and they die ("Cannot enter into task ... while another task ... is being
executed"). The console uses the awaitable dialogs in app/views/dialogs.py instead; this
guard proves no code path still opens a blocking one.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QFileDialog,
    QFontDialog,
    QInputDialog,
    QMessageBox,
)

#: Every Qt entry point that spins its own event loop until the operator answers.
#: ``QDialog.exec`` covers every dialog subclass (none overrides it in PySide6).
BLOCKING: dict[type, tuple[str, ...]] = {
    QDialog: ("exec", "exec_"),
    QMessageBox: ("question", "information", "warning", "critical", "about"),
    QInputDialog: ("getText", "getInt", "getDouble", "getItem", "getMultiLineText"),
    QFileDialog: (
        "getSaveFileName",
        "getOpenFileName",
        "getOpenFileNames",
        "getExistingDirectory",
    ),
    QColorDialog: ("getColor",),
    QFontDialog: ("getFont",),
}


class NestedEventLoop(RuntimeError):
    """Raised instead of entering a modal loop while the asyncio loop runs."""


class NestedLoopGuard:
    """Records each blocking call made while an asyncio loop runs, and refuses it."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def _refuse(self, where: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return original(*args, **kwargs)  # no loop running: nothing to nest into
            stack = "".join(traceback.format_stack(limit=12)[:-1])
            self.violations.append(f"{where} called while the asyncio loop runs:\n{stack}")
            raise NestedEventLoop(f"{where} would nest an event loop inside the asyncio loop")

        return guarded

    @contextmanager
    def installed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[NestedLoopGuard]:
        for cls, names in BLOCKING.items():
            for name in names:
                guarded = self._refuse(f"{cls.__name__}.{name}", getattr(cls, name))
                static = isinstance(cls.__dict__[name], staticmethod)
                monkeypatch.setattr(cls, name, staticmethod(guarded) if static else guarded)
        yield self
