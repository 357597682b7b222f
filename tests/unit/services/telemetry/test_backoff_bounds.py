"""The back-off bounds the README states, per failure kind, and that kinds do not mix."""

from __future__ import annotations

import random

from app.services import poll_policy as policy
from app.services.poll_policy import Streaks, Verdict


def test_transient_back_off_doubles_from_30_s_to_at_most_15_min() -> None:
    rng = random.Random(1)
    assert 24 <= policy.backoff_s(1, rng) <= 36
    assert 48 <= policy.backoff_s(2, rng) <= 72
    assert all(policy.backoff_s(n, rng) <= 900 * 1.2 for n in range(1, 60))
    assert policy.backoff_s(50, rng) >= 900 * 0.8


def test_asleep_waits_30_min_doubling_to_at_most_2_h() -> None:
    assert [policy.asleep_s(n, 300) for n in (1, 2, 3, 4, 40)] == [1800, 3600, 7200, 7200, 7200]


def test_each_kind_counts_its_own_streak_and_a_read_resets_all() -> None:
    streaks = Streaks()
    for verdict in (Verdict.TRANSIENT, Verdict.TRANSIENT, Verdict.TRANSIENT):
        streaks.failed(verdict)
    assert streaks.failed(Verdict.ASLEEP) == 1 and streaks.of(Verdict.TRANSIENT) == 3
    streaks.reset()
    assert streaks.of(Verdict.TRANSIENT) == streaks.of(Verdict.ASLEEP) == 0
