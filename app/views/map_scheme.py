"""The ``app://`` and ``tiles://`` URL schemes that serve the map page without a network.

``app://page/<name>`` serves the generated map page and our JS glue,
``app://assets/<package>/<file>`` serves Leaflet and its plugins straight from the
installed xstatic packages, and the drawing plugin (Leaflet-Geoman, ``geoman``) from the
npm folder make installs (``web/node_modules``, pinned by web/package-lock.json): no
third-party file in this repository. Without that folder the map still works; only
drawing zones is unavailable (``drawing_unavailable()`` says why), and
``tiles://<source>/<z>/<x>/<y>.png`` serves tiles from the on-disk cache, fetching a
missing one when online and answering with a plain placeholder otherwise, so vehicles
still show on a blank background with no cache and no network.

Chromium only accepts custom schemes registered before QApplication exists:
``register_schemes()`` is called from main.py (and the map tests' conftest) that early.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from pathlib import Path

import xstatic.pkg.leaflet
from PySide6.QtCore import QBuffer, QByteArray, QFile, QIODevice
from PySide6.QtGui import QColor, QImage
from PySide6.QtWebEngineCore import (
    QWebEngineUrlRequestJob,
    QWebEngineUrlScheme,
    QWebEngineUrlSchemeHandler,
)

from app.resources import web_packages_root
from app.views.map_tiles import BadTile, TileCache, tile_key

logger = logging.getLogger(__name__)

SCHEMES = (b"app", b"tiles")
ASSET_DIRS = {
    "leaflet": Path(xstatic.pkg.leaflet.BASE_DIR),
    "geoman": web_packages_root() / "@geoman-io" / "leaflet-geoman-free" / "dist",
}
GEOMAN_JS = "leaflet-geoman.min.js"
QWEBCHANNEL_JS = ":/qtwebchannel/qwebchannel.js"  # shipped inside Qt's resources
BACKGROUND = "#e9eef2"


def register_schemes() -> None:
    """Declare our schemes to Chromium; must run before QApplication is created."""
    for name in SCHEMES:
        if QWebEngineUrlScheme.schemeByName(name).name() == name:
            continue
        scheme = QWebEngineUrlScheme(name)
        scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
        scheme.setFlags(
            QWebEngineUrlScheme.Flag.SecureScheme
            | QWebEngineUrlScheme.Flag.LocalAccessAllowed
            | QWebEngineUrlScheme.Flag.CorsEnabled
        )
        QWebEngineUrlScheme.registerScheme(scheme)


def drawing_unavailable() -> str | None:
    """Why zones cannot be drawn on the map (the plugin is not installed), or None."""
    folder = ASSET_DIRS["geoman"]
    if (folder / GEOMAN_JS).is_file():
        return None
    return (
        f"Drawing zones is unavailable: the Leaflet-Geoman plugin is not installed "
        f"({folder} is missing; run make, which installs it with npm ci --prefix web)."
    )


def schemes_registered() -> bool:
    return all(QWebEngineUrlScheme.schemeByName(n).name() == n for n in SCHEMES)


def placeholder_tile() -> bytes:
    """A plain 256 px tile: the map's background when no real tile can be had."""
    image = QImage(256, 256, QImage.Format.Format_RGB32)
    image.fill(QColor(BACKGROUND))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # The stubs type the format as bytes, but PySide6 only accepts a str here (at runtime
    # b"PNG" raises ValueError).
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    return bytes(data.data())


def _qt_resource(path: str) -> bytes | None:
    file = QFile(path)
    if not file.open(QIODevice.OpenModeFlag.ReadOnly):
        return None
    try:
        return bytes(file.readAll().data())
    finally:
        file.close()


class MapSchemeHandler(QWebEngineUrlSchemeHandler):
    """Answers every request of the map page; nothing leaves the machine but tile fetches."""

    def __init__(self, tiles: TileCache) -> None:
        super().__init__()
        self.tiles = tiles
        self.pages: dict[str, bytes] = {}
        self.served = {"pages": 0, "assets": 0, "tiles": 0, "placeholders": 0, "failed": 0}
        self._placeholder = placeholder_tile()
        self._fetches: set[asyncio.Task[None]] = set()

    def set_page(self, name: str, content: bytes) -> None:
        self.pages[name] = content

    def requestStarted(self, job: QWebEngineUrlRequestJob) -> None:
        url = job.requestUrl()
        host, path = url.host(), url.path()
        if url.scheme() == "tiles":
            self._tile(job, host, path)
        elif host == "page" and path.lstrip("/") in self.pages:
            name = path.lstrip("/")
            self._reply(job, _mime(name), self.pages[name], "pages")
        elif host == "assets":
            self._asset(job, path.lstrip("/"))
        else:
            self._fail(job, f"unknown address {url.toString()}")

    def _asset(self, job: QWebEngineUrlRequestJob, path: str) -> None:
        package, _, rest = path.partition("/")
        if package == "qtwebchannel" and rest == "qwebchannel.js":
            data = _qt_resource(QWEBCHANNEL_JS)
            if data is not None:
                self._reply(job, "text/javascript", data, "assets")
                return
        base = ASSET_DIRS.get(package)
        if base is not None:
            file = (base / rest).resolve()
            if file.is_file() and base.resolve() in file.parents:  # no ../ escapes
                self._reply(job, _mime(file.name), file.read_bytes(), "assets")
                return
        self._fail(job, f"no asset {path}")

    def _tile(self, job: QWebEngineUrlRequestJob, source: str, path: str) -> None:
        try:
            key = tile_key(source, path)
        except BadTile as exc:
            self._fail(job, str(exc))
            return
        data = self.tiles.cached(*key)
        if data is not None:
            self._reply(job, "image/png", data, "tiles")
            return
        if not self.tiles.can_fetch:
            self._reply(job, "image/png", self._placeholder, "placeholders")
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no asyncio loop runs Qt here (a bare Qt test): no fetching
            self._reply(job, "image/png", self._placeholder, "placeholders")
            return
        task = loop.create_task(self._fetch_tile(job, key), name=f"tile {key}")
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _fetch_tile(
        self, job: QWebEngineUrlRequestJob, key: tuple[str, int, int, int]
    ) -> None:
        data = await self.tiles.fetch(*key)
        if data is None:
            self._reply(job, "image/png", self._placeholder, "placeholders")
        else:
            self._reply(job, "image/png", data, "tiles")

    def _reply(self, job: QWebEngineUrlRequestJob, mime: str, data: bytes, kind: str) -> None:
        try:
            buffer = QBuffer(parent=job)  # the job owns the buffer until Chromium read it
            buffer.setData(data)
            buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            job.reply(mime.encode(), buffer)
        except RuntimeError:  # the page went away while a tile was being fetched
            return
        self.served[kind] += 1

    def _fail(self, job: QWebEngineUrlRequestJob, why: str) -> None:
        logger.warning("map page request refused: %s", why)
        self.served["failed"] += 1
        job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)

    async def aclose(self) -> None:
        """Stop tile downloads in flight (the window is closing)."""
        for task in list(self._fetches):
            task.cancel()
        await asyncio.gather(*self._fetches, return_exceptions=True)
        if self.tiles.fetcher is not None:
            await self.tiles.fetcher.aclose()


def _mime(name: str) -> str:
    if name.endswith(".js"):
        return "text/javascript"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
