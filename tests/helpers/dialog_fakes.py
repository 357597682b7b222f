"""Async stand-ins for the awaitable dialogs (``Confirm``, ``Prompt``, ``AskPath``).

The views await their questions (app/views/dialogs.py), so a fake must be awaitable too;
it records the last positional argument it was asked (the question, the file name).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


def answering(answer: Any, asked: list[Any] | None = None) -> Callable[..., Awaitable[Any]]:
    """An async dialog that records what it was asked in ``asked`` and returns ``answer``."""

    async def dialog(*args: Any) -> Any:
        if asked is not None:
            asked.append(args[-1])
        return answer

    return dialog
