"""A dispatcher's whole shift in the real console (issue #13, deliverable 3).

``main.main`` in demo mode with every simulator (Smartcar, the IoT devices on the
gateway, the GPS on a pseudo-terminal), offscreen, in a fresh process, driven through
its widgets by tests/helpers/shift_console.py: connect a car in the embedded Connect and
see its first data unasked; lock and unlock it through the confirmation; start and end a
rental; lock a scooter; zoom the map out with a vehicle selected and see clusters; chart
a one-sample and a long history; open every tool window. Then every background task
must still run, IoT samples still arrive, File → Quit must finish with nothing left
running, and the log must hold no ERROR and no traceback. The quit time itself is a
number for bench_soak, not an assertion here.

A process of its own because Quit ends the application for good (QtWebEngine shuts down
with it), and because that is what an operator runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]
SHIFT_TIMEOUT_S = 900  # steps give up on their own well before; this is the last resort
STEPS = (
    "connect a car in the embedded Connect",
    "lock and unlock the car",
    "start and end a rental",
    "lock a scooter",
    "zoom the map out with a vehicle selected",
    "charts of a one-sample and a long history",
    "open every tool window",
    "IoT samples still arriving",
    "every background task alive",
    "quit",
)


def problems_of(report: dict, stderr: str) -> list[str]:
    """Everything the operator would have noticed, one line each."""
    found = [f"{s['name']}: {s['error']}" for s in report["steps"] if not s["ok"]]
    done = {s["name"] for s in report["steps"]}
    found += [f"{name}: never ran" for name in STEPS if name not in done]
    if report["exit_code"] != 0:
        found.append(f"the console exited with {report['exit_code']}")
    if report["tasks_left"]:
        found.append(f"still running after Quit: {report['tasks_left']}")
    if report["quit_s"] is None:
        found.append("Quit never finished")
    if report["log_error_count"]:
        found.append(f"{report['log_error_count']} ERROR/traceback log records, first:")
        found += [f"    {line}" for line in report["log_errors"][:10]]
    if "Traceback" in stderr:
        found.append("a traceback on stderr")
    return found


@pytest.mark.timeout(SHIFT_TIMEOUT_S + 60)
def test_a_dispatchers_shift_in_the_demo_console(tmp_path):
    report_file = tmp_path / "shift.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.helpers.shift_console",
            "--data-dir",
            str(tmp_path / "data"),
            "--report",
            str(report_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SHIFT_TIMEOUT_S,
    )
    assert report_file.exists(), f"no report (exit {child.returncode}):\n{child.stderr[-4000:]}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    problems = problems_of(report, child.stderr)
    assert not problems, "\n".join(problems)
