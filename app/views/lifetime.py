"""Whether a widget still exists after an await: Qt may have deleted it meanwhile.

Loads run on the loop while the operator goes on working: a window closed (and its
widgets deleted by Qt) while its data was on the way must drop that data, since touching a
deleted widget raises from the loop's callback ("Internal C++ object already deleted").
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget
from shiboken6 import isValid


def gone(widget: QWidget) -> bool:
    """True once Qt deleted ``widget`` (check it after every await that precedes a paint)."""
    return not isValid(widget)
