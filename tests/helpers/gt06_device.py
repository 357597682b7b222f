"""A GT06 tracker over real TCP that remembers which of its reports the server acknowledged.

Each report's serial number is also its fix time (``T0 + serial`` seconds), so a test can
check, frame by frame, that everything acknowledged is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from app.integrations.iot.codecs.gt06 import Gt06Framer
from app.integrations.iot.codecs.gt06_build import build_location, build_login

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOGIN_SERIAL = 0


def fix_time(serial: int) -> datetime:
    return T0 + timedelta(seconds=serial)


class Gt06Device:
    """One connection: ``login`` then ``report(serial)``; ``acked`` holds ACKed serials."""

    def __init__(self, imei: str, host: str, port: int) -> None:
        self.imei, self.host, self.port = imei, host, port
        self.acked: set[int] = set()
        self.logged_in = asyncio.Event()
        self.closed = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def login(self, timeout: float = 10.0) -> None:
        reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
        self._writer.write(build_login(self.imei, LOGIN_SERIAL))
        await asyncio.wait_for(self.logged_in.wait(), timeout)

    def report(self, serial: int) -> None:
        """Send a fix; its ACK (if the server stores it) lands in ``acked`` later."""
        assert self._writer is not None and serial > LOGIN_SERIAL
        # A different place each time: the store skips a reading equal to the last one.
        lat, lon = 52.5 + serial * 1e-4, 13.4 + (serial % 97) * 1e-4
        frame = build_location(fix_time(serial), lat, lon, 10.0, 90.0, serial=serial)
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._writer.write(frame)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer = Gt06Framer()
        try:
            while data := await reader.read(4096):
                for frame in framer.feed(data):
                    serial = int.from_bytes(frame[-6:-4], "big")
                    if frame[3] == 0x01:
                        self.logged_in.set()
                    else:
                        self.acked.add(serial)
        except ConnectionError:
            pass
        finally:
            self.closed.set()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)
