"""An account's usage habit, pure: its last day of use and the share of its recent days with use,
from the first use when that is more recent, checked against a plain loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from valueproof.success.daily import usage_habit


def by_hand(row: np.ndarray, window: int) -> tuple[int, float]:
    used = np.flatnonzero(row)
    if len(used) == 0:
        return -1, 0.0
    last, first = int(used[-1]), int(used[0])
    start = max(last - window + 1, first, 0)
    return last, float(row[start : last + 1].mean())


@settings(max_examples=200, deadline=None)
@given(
    active=arrays(np.bool_, st.tuples(st.integers(1, 6), st.integers(1, 90))),
    window=st.integers(1, 60),
)
def test_the_habit_is_the_share_of_used_days_up_to_the_last_one(
    active: np.ndarray, window: int
) -> None:
    last, share = usage_habit(active, window)
    for row in range(active.shape[0]):
        want_last, want_share = by_hand(active[row], window)
        assert last[row] == want_last
        assert share[row] == want_share or abs(share[row] - want_share) < 1e-12


def test_daily_use_is_a_habit_of_one_and_every_tenth_day_a_tenth() -> None:
    daily = np.ones((1, 100), dtype=bool)
    tenth = np.zeros((1, 100), dtype=bool)
    tenth[0, ::10] = True
    assert usage_habit(daily)[1][0] == 1.0
    last, share = usage_habit(tenth, 50)
    assert last[0] == 90 and abs(share[0] - 5 / 50) < 1e-12
