"""Loads the captured IoT frames in ``tests/data/iot-frames`` for codec tests and benchmarks.

The files come from Traccar's public tests (schema in reference/iot-protocols.md 1.9). A
frame's wire bytes are ``frame_hex`` when given (text frames with bytes outside ASCII),
the hex-decoded ``frame`` for binary protocols, else the text itself in ISO-8859-1.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parents[1] / "data" / "iot-frames"


@dataclass(frozen=True)
class CorpusFrame:
    protocol: str
    line: int
    data: bytes
    kind: str
    source: str
    seq: int
    expect: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def test_id(self) -> str:
        return f"{self.protocol}-L{self.line}-{self.kind}"


def _bytes(record: dict) -> bytes:
    if "frame_hex" in record:
        return bytes.fromhex(record["frame_hex"])
    if record.get("encoding") == "hex":
        return bytes.fromhex(record["frame"])
    return record["frame"].encode("latin-1")


def load(protocol: str) -> list[CorpusFrame]:
    """Every frame of ``protocol`` in file order (empty if there is no file)."""
    path = CORPUS_DIR / f"{protocol}.jsonl"
    if not path.exists():
        return []
    frames = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        record = json.loads(text)
        frames.append(
            CorpusFrame(
                protocol=protocol,
                line=number,
                data=_bytes(record),
                kind=record["kind"],
                source=record["source"],
                seq=record.get("seq", 0),
                expect=record.get("expect", {}),
                extra=record,
            )
        )
    return frames


def device_frames(protocol: str) -> list[CorpusFrame]:
    """Frames a device sends (decoder input), leaving out the server's encoder outputs."""
    return [f for f in load(protocol) if f.kind != "command-response"]


def sessions(frames: list[CorpusFrame]) -> list[list[CorpusFrame]]:
    """Frames grouped by test method, in ``seq`` order: replay each group on one connection."""
    groups: dict[str, list[CorpusFrame]] = defaultdict(list)
    for frame in frames:
        groups[frame.source].append(frame)
    return [sorted(group, key=lambda f: f.seq) for group in groups.values()]


def load_framing(protocol: str) -> list[dict]:
    """Framing cases: ``input`` (stream, hex) and ``first_frame`` (hex) the framer must emit."""
    path = CORPUS_DIR / "framing" / f"{protocol}.jsonl"
    if not path.exists():
        return []
    return [json.loads(t) for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
