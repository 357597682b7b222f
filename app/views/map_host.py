"""Hosting one of our Leaflet pages in a QWebEngineView: what the fleet map and the route
replay share.

Each page gets its own off-the-record profile with the ``app://`` / ``tiles://`` scheme
handler installed, its JavaScript glue from ``resources/map/``, and a QWebChannel with one
``bridge`` object for calls back into Python. A missing scheme registration or glue file
leaves a label in the layout instead of crashing the console.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.resources import resource_path
from app.views.map_scheme import MapSchemeHandler, schemes_registered
from app.views.map_tiles import TileCache

logger = logging.getLogger(__name__)


class LoggingPage(QWebEnginePage):
    """A page whose JavaScript errors go to our log instead of vanishing."""

    def __init__(self, name: str, profile: QWebEngineProfile, parent: QObject) -> None:
        super().__init__(profile, parent)
        self._name = name

    def javaScriptConsoleMessage(
        self,
        level: QWebEnginePage.JavaScriptConsoleMessageLevel,
        message: str,
        line: int,
        source: str,
    ) -> None:
        logger.warning("%s page %s:%d: %s", self._name, source, line, message)


@dataclass
class HostedPage:
    view: QWebEngineView
    profile: QWebEngineProfile
    handler: MapSchemeHandler


def host_page(
    owner: QWidget,
    layout: QVBoxLayout,
    *,
    tiles: TileCache,
    page: str,
    html: str,
    script: str,
    bridge: QObject,
) -> HostedPage | None:
    """Load ``app://page/<page>`` (``html``) with ``resources/map/<script>`` beside it."""
    if not schemes_registered():
        # Too late to register them once QApplication exists: say so, do not crash.
        logger.error("map URL schemes were not registered before QApplication")
        layout.addWidget(QLabel("Map unavailable: start-up did not register its schemes."))
        return None
    try:
        glue = resource_path("map", script).read_bytes()
    except OSError as exc:  # an incomplete bundle: no map, but the console runs
        logger.error("map page script unavailable: %s", exc)
        layout.addWidget(QLabel(f"Map unavailable: {exc}"))
        return None
    # Creation order matters for teardown: the view (and its page) are children created
    # before the profile, so Qt deletes them first, as QtWebEngine needs.
    view = QWebEngineView(owner)
    profile = QWebEngineProfile(owner)  # off the record: nothing stored on disk
    handler = MapSchemeHandler(tiles)
    handler.setParent(profile)
    for scheme in (b"app", b"tiles"):
        profile.installUrlSchemeHandler(scheme, handler)
    handler.set_page(page, html.encode())
    handler.set_page(script, glue)
    web_page = LoggingPage(page, profile, view)
    channel = QWebChannel(web_page)
    channel.registerObject("bridge", bridge)
    web_page.setWebChannel(channel)
    view.setPage(web_page)
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    layout.addWidget(view)
    view.load(QUrl(f"app://page/{page}"))
    return HostedPage(view, profile, handler)
