"""Decode throughput of every registered IoT codec over the captured frame corpus.

Each protocol in ``PROTOCOLS`` is measured on its own frames from
``tests/data/iot-frames``: decoding whole frames, and framing a concatenated stream fed
in 1 KiB chunks plus decoding what comes out. Codecs whose module has not landed yet are
skipped and named, so new codecs join the table without editing this file.

Target: 5,000 frames/s per protocol, ten times what 5,000 devices reporting every 10 s
send, so decoding never limits the gateway.
"""

from __future__ import annotations

import contextlib
import time

from app.integrations.iot.codecs import _MODULES, PROTOCOLS, get_codec
from app.integrations.iot.records import FrameError
from tests.benchmarks.harness import Result
from tests.helpers.iot_corpus import device_frames

TARGET = 5_000.0
DURATION_S = 2.0
CHUNK = 1024


def _decodable(codec, frames: list[bytes]) -> list[bytes]:
    """The corpus frames this codec decodes (lenient), so failures are not timed."""
    good = []
    for frame in frames:
        try:
            codec.decode(frame, device_id="bench", strict=False)
        except FrameError:
            continue
        good.append(frame)
    return good


def _rate(work, frames_per_round: int) -> float:
    rounds, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < DURATION_S:
        work()
        rounds += 1
    return rounds * frames_per_round / elapsed


def _stream(protocol: str, frames: list[bytes]) -> bytes:
    separator = b"\r\n" if protocol in ("omni", "nmea") else b""
    return b"".join(frame + separator for frame in frames)


def run() -> list[Result]:
    results: list[Result] = []
    for protocol in PROTOCOLS:
        try:
            codec = get_codec(protocol)
        except ModuleNotFoundError as error:
            if error.name != _MODULES[protocol]:
                raise
            print(f"bench_iot_decode: skipped {protocol}: {_MODULES[protocol]} not present yet")
            results.append(Result("iot_decode", f"{protocol}: skipped (no module)", 0, ""))
            continue
        frames = _decodable(codec, [f.data for f in device_frames(protocol)])
        if not frames:
            print(f"bench_iot_decode: skipped {protocol}: no decodable corpus frames")
            continue

        def decode_all(frames=frames, codec=codec) -> None:
            for frame in frames:
                codec.decode(frame, device_id="bench", strict=False)

        stream = _stream(protocol, frames)

        def frame_and_decode(stream=stream, codec=codec) -> None:
            framer = codec.framer(max_frame=65536)
            for at in range(0, len(stream), CHUNK):
                for frame in framer.feed(stream[at : at + CHUNK]):
                    with contextlib.suppress(FrameError):  # a stream may cut corpus frames oddly
                        codec.decode(frame, device_id="bench", strict=False)

        for metric, work in (("decode", decode_all), ("frame+decode", frame_and_decode)):
            rate = _rate(work, len(frames))
            results.append(
                Result(
                    "iot_decode",
                    f"{protocol} {metric} ({len(frames)} frames)",
                    rate,
                    "frames/s",
                    f">= {TARGET:,.0f} frames/s",
                    rate >= TARGET,
                )
            )
    return results
