"""The benchmark harness behind ``make bench``.

Every ``tests/benchmarks/bench_*.py`` exposes ``run() -> list[Result]``; this module runs
them (or the ones named on the command line), prints one table and exits non-zero only if
a benchmark crashed. Targets are reported, not enforced: performance is measured here,
never asserted in the test suite.
"""

from __future__ import annotations

import importlib
import json
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

RESULT_MARK = "BENCH-RESULTS "


@dataclass(frozen=True)
class Result:
    """One measured number and the target it is read against."""

    benchmark: str
    metric: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None


def machine() -> str:
    """A one-line description of the machine, for the README table."""
    cpu = platform.processor() or platform.machine()
    try:
        import os

        cores = os.cpu_count()
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        cores, mem = "?", "?"
    python = platform.python_version()
    return f"{platform.system()} {platform.release()}, {cpu}, {cores} cores, {mem}, Python {python}"


def run_one(name: str) -> int:
    """Child mode: run one benchmark module and print its results as JSON on the last line."""
    module = importlib.import_module(f"tests.benchmarks.{name}")
    results = module.run()
    print(RESULT_MARK + json.dumps([asdict(r) for r in results]), flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Each benchmark runs in a process of its own: a Qt benchmark that crashes at exit (or
    leaves a QApplication behind) cannot take the others' numbers with it."""
    if argv[:1] == ["--one"]:
        return run_one(argv[1])
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    results: list[Result] = []
    failed = []
    for name in names:
        print(f"running {name} ...", flush=True)
        child = subprocess.run(
            [sys.executable, "-m", "tests.benchmarks.harness", "--one", name],
            capture_output=True,
            text=True,
        )
        lines = [line for line in child.stdout.splitlines() if line.startswith(RESULT_MARK)]
        for note in child.stdout.splitlines():  # what a benchmark says besides its numbers
            if note.strip() and not note.startswith(RESULT_MARK):
                print(f"  {note}")
        if not lines:
            print(child.stdout[-3000:], child.stderr[-3000:], sep="\n")
            failed.append(name)
            continue
        results.extend(Result(**r) for r in json.loads(lines[-1][len(RESULT_MARK) :]))
    print()
    print(f"machine: {machine()}")
    print()
    print("| benchmark | metric | value | target | met |")
    print("|---|---|---|---|---|")
    for r in results:
        met = "" if r.met is None else ("yes" if r.met else "NO")
        print(f"| {r.benchmark} | {r.metric} | {r.value:,.2f} {r.unit} | {r.target} | {met} |")
    if failed:
        print(f"\nbenchmarks that crashed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
