"""How much of each account's history the refresh analyses: whole weeks from its first use, and
never less than the two years the yearly period needs once the account has them."""

from __future__ import annotations

import numpy as np

from valueproof.success.daily import own_histories
from valueproof.success.refresh import HISTORY_DAYS, MIN_HISTORY_DAYS


def lengths(starts: list[int]) -> dict[int, int]:
    values = np.zeros((len(starts), HISTORY_DAYS))
    for row, start in enumerate(starts):
        values[row, start:] = 1.0
    return {int(row): size for rows, size in own_histories(values) for row in rows}


def test_two_years_of_history_keep_the_730_days_the_yearly_test_needs() -> None:
    # 735 days read: an account with 732 days of its own is not cut to 728 (104 weeks)
    found = lengths([0, 3, 5, 6, 665, HISTORY_DAYS - 70, HISTORY_DAYS - 69])
    assert found[0] == 735 and found[1] == 730 and found[2] == 730
    assert found[3] == 728  # 729 days: under two years, whole weeks
    assert found[4] == 70 == MIN_HISTORY_DAYS  # 70 days are enough for a baseline
    assert found[6] == 63  # 69 days: nine whole weeks, too short for a baseline


def test_an_account_that_never_used_the_meter_has_no_history() -> None:
    values = np.zeros((2, HISTORY_DAYS))
    values[1, -10:] = 3.0
    found = {int(r): size for rows, size in own_histories(values) for r in rows}
    assert 0 not in found and found[1] == 7
