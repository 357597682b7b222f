"""Which background workers a context would start, without starting any."""

from __future__ import annotations

import pytest

from app.services.tasks import TaskOwner
from app.services.wiring import workers
from app.services.wiring.context import AppContext


def spawned_workers(context: AppContext, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names ``start_workers`` spawns for ``context``, in order (nothing runs, so no
    gateway port is bound and no sender starts)."""
    spawned: list[str] = []
    tasks = TaskOwner()
    monkeypatch.setattr(tasks, "spawn", lambda _factory, name, **_kw: spawned.append(name))
    workers.start_workers(context, tasks)
    return spawned
