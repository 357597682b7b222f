"""Qt signals must not leak references to Python's singletons.

PySide6 6.12.0 under Python 3.11 drops one reference to ``True`` on every
``Signal.emit()``: ``True`` has a few thousand references, so a console that emits
signals for every telemetry batch aborts with "Fatal Python error: bool_dealloc" within
minutes under device load. pyproject.toml keeps PySide6 below 6.12 for that; this test
fails on any PySide6 that brings the leak back.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

pytestmark = pytest.mark.gui

EMITS = 500


class _Emitter(QObject):
    bare = Signal()
    carrying = Signal(object)


@pytest.mark.parametrize("signal", ["bare", "carrying"])
def test_emitting_keeps_the_references_of_true_false_and_none(qapp, signal: str) -> None:
    emitter = _Emitter()
    received: list[object] = []
    getattr(emitter, signal).connect(lambda *args: received.append(args))
    before = [sys.getrefcount(x) for x in (True, False, None)]
    for n in range(EMITS):
        getattr(emitter, signal).emit(*((n,) if signal == "carrying" else ()))
    after = [sys.getrefcount(x) for x in (True, False, None)]
    assert len(received) == EMITS
    received.clear()
    assert [a - b for a, b in zip(after, before, strict=True)] == [0, 0, 0]
