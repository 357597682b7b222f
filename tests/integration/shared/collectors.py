"""Running ``python main.py collect`` as a real subprocess and reading its log lines."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SETTINGS = """
[iot]
gateway_host = "127.0.0.1"
[iot.ports]
omni = 0
gl200 = 0
teltonika = 0
gt06 = 0
nmea = 0
"""


def write_settings(data_dir: Path, extra: str = "") -> Path:
    config = data_dir / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(SETTINGS + extra, encoding="utf-8")
    return data_dir


class CollectorProcess:
    """One collector; ``lines`` fills from its stdout on a reader thread."""

    def __init__(self, url: str, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "main.py", "collect", "--db", url),
                *("--data-dir", str(data_dir), "--poll", "0.2"),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def output(self) -> str:
        return "\n".join(self.lines)

    def finish(self, timeout: float = 20) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()
