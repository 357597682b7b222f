"""The one listener helper: subscribe returns the unsubscribe, a failing callback is
logged and never stops the ones after it."""

import logging

import pytest

from app.listeners import Listeners


def test_every_callback_hears_in_order_and_unsubscribe_stops_one():
    heard: list[str] = []
    changes: Listeners[[int]] = Listeners("test changes")
    first = changes.subscribe(lambda n: heard.append(f"a{n}"))
    changes.subscribe(lambda n: heard.append(f"b{n}"))
    changes.notify(1)
    first()
    first()  # a second unsubscribe is harmless (a view closing twice)
    changes.notify(2)
    assert heard == ["a1", "b1", "b2"] and len(changes) == 1


@pytest.mark.expect_log("app.listeners", r"a listener of test changes failed", level="ERROR")
def test_a_failing_callback_is_logged_and_the_others_still_hear(caplog):
    heard: list[int] = []
    changes: Listeners[[int]] = Listeners("test changes")
    changes.subscribe(lambda _n: 1 / 0)
    changes.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="app.listeners"):
        changes.notify(7)
    assert heard == [7]
    [record] = caplog.records
    assert "a listener of test changes failed" in record.getMessage() and record.exc_info


def test_a_callback_may_unsubscribe_itself_while_called():
    heard: list[str] = []
    changes: Listeners[[]] = Listeners("test changes")
    unsubscribe = changes.subscribe(lambda: (heard.append("once"), unsubscribe()))
    changes.subscribe(lambda: heard.append("always"))
    changes.notify()
    changes.notify()
    assert heard == ["once", "always", "always"]
