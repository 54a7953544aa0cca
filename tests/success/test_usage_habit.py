"""An account's usage habit, pure: its last day of use and, per weekday, the share of its recent
such days with use (from the first use when that is more recent), checked against a plain loop."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from valueproof.success.daily import usage_habit

MONDAY = date(2026, 11, 2)


def by_hand(row: np.ndarray, first: date, window: int) -> tuple[int, list[float]]:
    used = np.flatnonzero(row)
    if len(used) == 0:
        return -1, [0.0] * 7
    last, began = int(used[-1]), int(used[0])
    start = max(last - window + 1, began, 0)
    shares = []
    for weekday in range(7):
        days = [
            i for i in range(start, last + 1) if (first + timedelta(days=i)).weekday() == weekday
        ]
        shares.append((sum(bool(row[i]) for i in days) + 0.5) / (len(days) + 1.0))
    return last, shares


@settings(max_examples=150, deadline=None)
@given(
    active=arrays(np.bool_, st.tuples(st.integers(1, 5), st.integers(1, 90))),
    window=st.integers(1, 60),
    shift=st.integers(0, 6),
)
def test_the_habit_is_each_weekdays_share_of_used_days_up_to_the_last_one(
    active: np.ndarray, window: int, shift: int
) -> None:
    first = MONDAY + timedelta(days=shift)
    last, shares = usage_habit(active, first, window)
    for row in range(active.shape[0]):
        want_last, want_shares = by_hand(active[row], first, window)
        assert last[row] == want_last
        assert np.allclose(shares[row], want_shares)


def test_weekday_use_makes_weekdays_likely_and_weekends_not() -> None:
    weekdays = np.array([[(MONDAY + timedelta(days=i)).weekday() < 5 for i in range(56)]])
    last, shares = usage_habit(weekdays, MONDAY)
    assert last[0] == 53  # the last Friday
    assert (shares[0, :5] > 0.9).all() and (shares[0, 5:] < 0.1).all()
