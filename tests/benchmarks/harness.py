"""The benchmark harness behind ``make bench``.

Every ``tests/benchmarks/bench_*.py`` exposes ``run() -> list[Result]``; this module runs
them (or the ones named on the command line), prints one table and exits non-zero only if
a benchmark crashed. Targets are reported, not enforced: performance is measured here,
never asserted in the test suite.
"""

from __future__ import annotations

import importlib
import platform
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path


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


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    results: list[Result] = []
    failed = []
    for name in names:
        print(f"running {name} ...", flush=True)
        try:
            module = importlib.import_module(f"tests.benchmarks.{name}")
            results.extend(module.run())
        except Exception:
            traceback.print_exc()
            failed.append(name)
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
