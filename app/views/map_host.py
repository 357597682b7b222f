"""Hosting one of our Leaflet pages in a QWebEngineView: what the fleet map and the route
replay share.

Each page gets its own off-the-record profile with the ``app://`` / ``tiles://`` scheme
handler installed, its JavaScript glue from ``resources/map/``, and a QWebChannel with one
``bridge`` object for calls back into Python. A missing scheme registration or glue file
leaves a label in the layout instead of crashing the console.

:class:`MapPageView` is the widget around it (the page, its bridge, ``ready`` and
``run_js``); :mod:`app.views.fleet_map` and :mod:`app.views.replay_map` build on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
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
    extra_scripts: tuple[str, ...] = (),
) -> HostedPage | None:
    """Load ``app://page/<page>`` (``html``) with ``resources/map/<script>`` (and each of
    ``extra_scripts``) beside it."""
    if not schemes_registered():
        # Too late to register them once QApplication exists: say so, do not crash.
        logger.error("map URL schemes were not registered before QApplication")
        layout.addWidget(QLabel("Map unavailable: start-up did not register its schemes."))
        return None
    try:
        glue = {name: resource_path("map", name).read_bytes() for name in (script, *extra_scripts)}
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
    for name, content in glue.items():
        handler.set_page(name, content)
    web_page = LoggingPage(page, profile, view)
    channel = QWebChannel(web_page)
    channel.registerObject("bridge", bridge)
    web_page.setWebChannel(channel)
    view.setPage(web_page)
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    layout.addWidget(view)
    view.load(QUrl(f"app://page/{page}"))
    return HostedPage(view, profile, handler)


class PageBridge(QObject):
    """The object a page talks to (``bridge`` in JS): ``pageReady()`` once it accepts data.
    A page with more to say back subclasses it with more slots."""

    ready = Signal()

    @Slot()
    def pageReady(self) -> None:
        self.ready.emit()


class MapPageView(QWidget):
    """A widget showing one hosted page; ``view`` is None when the page is unavailable.

    The page loads asynchronously: ``is_ready`` turns True, and ``ready`` is emitted, when
    its glue calls ``bridge.pageReady()``. Subclasses extend ``_on_ready`` to push what
    they held back until then.

    Signals:
        ready(): the page is loaded and accepts data.
    """

    ready = Signal()

    def __init__(
        self,
        tiles: TileCache,
        *,
        page: str,
        html: str,
        script: str,
        bridge: type[PageBridge] = PageBridge,
        extra_scripts: tuple[str, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.is_ready = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bridge = bridge(self)
        self.bridge.ready.connect(self._on_ready)
        hosted = host_page(
            self,
            layout,
            tiles=tiles,
            page=page,
            html=html,
            script=script,
            bridge=self.bridge,
            extra_scripts=extra_scripts,
        )
        self.view: QWebEngineView | None = hosted.view if hosted else None
        if hosted:
            self.profile, self.handler = hosted.profile, hosted.handler

    def _on_ready(self) -> None:
        self.is_ready = True
        self.ready.emit()

    def run_js(self, script: str, callback: Callable[[Any], None] | None = None) -> None:
        if self.view is None:
            return
        if callback is None:
            self.view.page().runJavaScript(script, 0)
        else:
            self.view.page().runJavaScript(script, 0, callback)

    async def aclose(self) -> None:
        """Cancel the page's tile downloads and close their client."""
        if self.view is not None:
            await self.handler.aclose()


def js_value(value: object) -> str:
    """``value`` as a JavaScript literal (compact JSON; NaN and infinities refused)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
