"""Routes Qt's own warnings (qWarning and friends) into Python logging."""

from __future__ import annotations

import logging

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

logger = logging.getLogger("qt")

_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}

# Harmless on headless and GPU-less machines (see stack-recipes.md section 1).
_NOISE = (
    "propagateSizeHints",
    "QRhiGles2",
    "Failed to create RHI",
    "Failed to create context",
    "GPUInfo not initialized",
    "Sandboxing disabled by user",
    "This plugin does not support raise()",  # the offscreen platform, on QWidget.raise_()
    "vulkan",  # Chromium probing for Vulkan on a machine without it (any GPU-less desktop)
    "Vulkan",
    "Unable to detect GPU vendor",
)


def _handler(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    level = _LEVELS.get(kind, logging.WARNING)
    if level >= logging.WARNING and any(noise in message for noise in _NOISE):
        level = logging.DEBUG
    logger.log(level, "%s", message)


def install() -> None:
    qInstallMessageHandler(_handler)
