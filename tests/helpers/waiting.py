"""Waiting on conditions instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Return as soon as ``predicate()`` is truthy; fail with ``what`` after ``timeout`` s.

    Use this inside async tests; qtbot.waitUntil would spin a nested Qt loop under the
    running qasync loop and deadlock (stack-recipes.md section 4).
    """

    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        raise AssertionError(
            f"timed out after {timeout} s waiting for {what or predicate}"
        ) from None
