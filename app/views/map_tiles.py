"""Map tiles: an on-disk cache in front of an HTTP tile server.

Tiles the operator has already seen stay on disk (``paths.tile_cache_dir``) so the map
still shows those areas offline. Missing tiles are fetched over HTTP only while the
network answers: after one failure the fetcher stays quiet for a while, so a machine
with no network asks once and then falls back at once instead of stalling every tile.
No Qt in here; the scheme handler (map_scheme.py) turns these bytes into replies.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
# The OSM tile policy asks for an identifying User-Agent.
USER_AGENT = "FleetConsole/0.1 (fleet operations desktop app)"
MAX_ZOOM = 19
OFFLINE_BACKOFF_S = 60.0
_SOURCE = re.compile(r"^[a-z0-9_-]{1,32}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class BadTile(ValueError):
    """A tile address that cannot exist (bad source name, zoom or coordinates)."""


def tile_key(source: str, path: str) -> tuple[str, int, int, int]:
    """Validate ``source`` and ``"z/x/y.png"``; raise BadTile for anything else.

    The address comes from the web page, so it is untrusted: it becomes a file path.
    """
    if not _SOURCE.match(source):
        raise BadTile(f"bad tile source {source!r}")
    match = re.fullmatch(r"/?(\d{1,2})/(\d{1,7})/(\d{1,7})\.png", path)
    if match is None:
        raise BadTile(f"bad tile path {path!r}")
    z, x, y = (int(part) for part in match.groups())
    if z > MAX_ZOOM or x >= 2**z or y >= 2**z:
        raise BadTile(f"tile {z}/{x}/{y} is outside the world")
    return source, z, x, y


class TileFetcher:
    """Downloads tiles from one URL template; gives up quickly when offline."""

    def __init__(
        self,
        url_template: str = OSM_URL,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url_template = url_template
        self._client = client or httpx.AsyncClient(
            headers={"User-Agent": USER_AGENT}, timeout=httpx.Timeout(5.0, connect=2.0)
        )
        self._clock = clock
        self._quiet_until = 0.0

    @property
    def online(self) -> bool:
        """False for a while after a network failure."""
        return self._clock() >= self._quiet_until

    async def fetch(self, z: int, x: int, y: int) -> bytes | None:
        if not self.online:
            return None
        url = self.url_template.format(z=z, x=x, y=y)
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            self._quiet_until = self._clock() + OFFLINE_BACKOFF_S
            logger.info("tile server unreachable (%s); offline tiles for a while", exc)
            return None
        if response.status_code != 200 or not response.content.startswith(_PNG_MAGIC):
            logger.warning("tile %s: HTTP %s, not a PNG", url, response.status_code)
            return None
        return response.content

    async def aclose(self) -> None:
        await self._client.aclose()


class TileCache:
    """Tiles on disk below ``root/<source>/<z>/<x>/<y>.png``, filled from a fetcher."""

    def __init__(self, root: Path, fetcher: TileFetcher | None = None) -> None:
        self.root = root
        self.fetcher = fetcher

    def _file(self, source: str, z: int, x: int, y: int) -> Path:
        return self.root / source / str(z) / str(x) / f"{y}.png"

    def cached(self, source: str, z: int, x: int, y: int) -> bytes | None:
        try:
            return self._file(source, z, x, y).read_bytes()
        except OSError:
            return None

    @property
    def can_fetch(self) -> bool:
        return self.fetcher is not None and self.fetcher.online

    async def fetch(self, source: str, z: int, x: int, y: int) -> bytes | None:
        """Download a missing tile and keep it; None when it cannot be had now."""
        if self.fetcher is None:
            return None
        data = await self.fetcher.fetch(z, x, y)
        if data is None:
            return None
        target = self._file(source, z, x, y)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.replace(target)  # never leave a half-written tile behind
        except OSError as exc:
            logger.warning("cannot cache tile %s: %s", target, exc)
        return data
