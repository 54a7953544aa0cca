"""The demo book's daily usage per account as a dense matrix, built without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np

from valueproof.demo import BookSpec, DemoAccount, demo_accounts, demo_events
from valueproof.success.series import FloatArray

# Two years and a week: the fast path tests a yearly period from 730 days, statsmodels' MSTL
# only from more than 730, and the comparison tests want both on the same series.
BOOK = BookSpec(end=datetime(2026, 1, 1, tzinfo=UTC), seed=7, accounts=30, days=737)


@lru_cache(maxsize=1)
def book_daily() -> tuple[tuple[DemoAccount, ...], FloatArray]:
    """The book's accounts and their daily totals (accounts x days): events, or message counts."""
    accounts = tuple(demo_accounts(BOOK))
    row = {account.external_id: i for i, account in enumerate(accounts)}
    matrix = np.zeros((len(accounts), BOOK.days))
    start = BOOK.start.date()
    for event in demo_events(BOOK, accounts):
        day = (date.fromisoformat(event["timestamp"][:10]) - start).days
        matrix[row[event["account"]], day] += event.get("value", 1)
    matrix.flags.writeable = False
    return accounts, matrix
