"""Test-wide set-up: headless Qt, QtWebEngine as root, and temp directories.

The environment variables must be set before any QApplication exists (pytest-qt creates it
lazily), which is why they sit at import time of the root conftest.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --log-level=3")
