"""Seasonal alerts on real series (issue 12): the baseline's error, its alerts, and their cost.

The series: the published ones bundled in the pmdarima and statsmodels wheels (airline
passengers, wine sales, beer, woollen yarn, Mauna Loa CO2, England and Wales electricity demand,
Australian residents, US population), placed on days by tests/success/real_series.py. On
`--windows` windows of 745 days (731 of history and the 14 that refresh checks) evenly spaced
across each series, printed per series:

- the periods detected and their mean strength F;
- the mean absolute percentage error over the 14 checked days of `check_recent`'s expected
  usage, of the weekly seasonal-naive forecast (the last 7 days repeated), and of statsmodels
  MSTL + damped-trend ETS (`success.reference.reference_baseline`, on the lags of the detected
  periods with more than two cycles of history), and the ratios of ours to each;
- the median width of the prediction interval, as a share of the expected usage;
- false alerts: decline or surge signals (`interval_signals`, default `AlertRules`) on
  `--copies` Poisson copies of every window;
- detection delay: the fewest last days multiplied by 0.6 (a 40% drop) and by 0.9 (10%) that
  raise a decline, median and worst over the windows.

Then over all series, Poisson copies with the last 7 days dropped by 40% (and by 10%) against the
clean copies: precision, recall and false alerts per 100 clean windows. Last, the batch:
`check_recent` for `--accounts` synthetic accounts x 745 days (benchmarks/seasonality.py's
`usage_matrix`) against the statsmodels loop on a sample, scaled.

    .venv/bin/python benchmarks/alerts.py
    .venv/bin/python benchmarks/alerts.py --windows 4 --copies 2 --accounts 1000
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the real series live beside the tests; usage_matrix beside us

from benchmarks.seasonality import machine, usage_matrix  # noqa: E402
from tests.success.real_series import (  # noqa: E402
    CHECK,
    WINDOW,
    RealSeries,
    decline_delays,
    mape,
    poisson_copies,
    real_series,
    reference_forecast,
    reference_lags,
    signal_kinds,
    weekly_naive,
    windows,
)

from valueproof.success.baseline import check_recent  # noqa: E402
from valueproof.success.reference import reference_baseline, reference_seasonality  # noqa: E402

DROPPED_DAYS = 7  # the injected drops of the precision and recall figures span the last week


def say(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True, slots=True)
class Row:
    """One series' figures."""

    name: str
    periods: str
    ours: float
    naive: float
    mstl: float
    width: float
    clean: int
    false: int
    delay40: list[int | None]
    delay10: list[int | None]
    caught40: int
    caught10: int


def delays(values: list[int | None]) -> str:
    found = [v for v in values if v is not None]
    missed = len(values) - len(found)
    text = f"{np.median(found):.0f} / {max(found)}" if found else "-"
    return text + (f" ({missed} missed)" if missed else "")


def dropped(rows: np.ndarray, factor: float) -> np.ndarray:
    out = rows.astype(np.float64)
    out[:, -DROPPED_DAYS:] *= factor
    return out


def measure(series: RealSeries, count: int, copies: int, seed: int) -> Row:
    """Every figure of one series on `count` windows and `copies` Poisson copies of each."""
    matrix, firsts = windows(series, count)
    check = check_recent(matrix, CHECK)
    table = check.seasonality
    periods = ", ".join(
        f"{c.name} {table.strength[:, j].mean():.2f} ({table.detected[:, j].mean():.0%})"
        for j, c in enumerate(table.candidates)
        if table.detected[:, j].any()
    )
    reference = np.stack(
        [reference_forecast(matrix[i], table.account(i)) for i in range(len(matrix))]
    )
    clean = poisson_copies(matrix, copies, seed).reshape(-1, matrix.shape[1]).astype(np.float64)
    days = list(firsts) * copies
    false = sum(bool(kinds) for kinds in signal_kinds(series, clean, days))
    caught = [
        sum("decline" in kinds for kinds in signal_kinds(series, dropped(clean, f), days))
        for f in (0.6, 0.9)
    ]
    return Row(
        name=series.name,
        periods=periods or "none",
        ours=mape(check.expected, check.actual),
        naive=mape(weekly_naive(matrix[:, :-CHECK]), check.actual),
        mstl=mape(reference, check.actual),
        width=float(np.median((check.upper - check.lower) / check.expected)),
        clean=len(clean),
        false=false,
        delay40=decline_delays(series, matrix, firsts, 0.6),
        delay10=decline_delays(series, matrix, firsts, 0.9),
        caught40=caught[0],
        caught10=caught[1],
    )


def table(rows: Sequence[Row]) -> None:
    say(
        "| series | periods: mean F (share detected) | ours | weekly naive | MSTL+ETS "
        "| ours/naive | ours/MSTL | band | false alerts | delay 40% | delay 10% |"
    )
    say("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        say(
            f"| {r.name} | {r.periods} | {r.ours:.2%} | {r.naive:.2%} | {r.mstl:.2%} "
            f"| {r.ours / r.naive:.2f} | {r.ours / r.mstl:.2f} | {r.width:.1%} "
            f"| {r.false}/{r.clean} | {delays(r.delay40)} | {delays(r.delay10)} |"
        )


def summary(rows: Sequence[Row]) -> None:
    clean = sum(r.clean for r in rows)
    false = sum(r.false for r in rows)
    for label, caught in (
        ("40%", sum(r.caught40 for r in rows)),
        ("10%", sum(r.caught10 for r in rows)),
    ):
        precision = caught / (caught + false) if caught + false else float("nan")
        say(
            f"drops of {label} over the last {DROPPED_DAYS} days: precision {precision:.1%}, "
            f"recall {caught / clean:.1%} ({caught}/{clean})"
        )
    say(f"false alerts: {false}/{clean} clean windows = {100 * false / clean:.1f} per 100")


def batch(accounts: int, sample: int) -> None:
    """`check_recent` over every account at once, against the statsmodels loop on a sample."""
    started = time.perf_counter()
    matrix = usage_matrix(accounts, days=WINDOW)
    say(f"setup: {accounts} accounts x {WINDOW} days in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    check_recent(matrix, CHECK)
    ours = time.perf_counter() - started
    rows = np.random.default_rng(2).choice(accounts, sample, replace=False)
    started = time.perf_counter()
    for row in rows:
        seasonality = reference_seasonality(matrix[row])
        history = matrix[row, :-CHECK]
        reference_baseline(history, CHECK, reference_lags(seasonality, len(history)))
    projected = (time.perf_counter() - started) / sample * accounts
    say(
        f"check_recent, {accounts:,} accounts x {WINDOW} days: {ours:.2f} s; statsmodels loop "
        f"(MSTL + ETS, {sample} accounts) projected {projected:,.0f} s: {projected / ours:,.0f}x"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=10, help="windows per series")
    parser.add_argument("--copies", type=int, default=5, help="Poisson copies per window")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=20, help="accounts in the statsmodels loop")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # statsmodels' optimiser notes are not the figures' concern

    say(f"machine: {machine()}")
    say(f"{args.windows} windows of {WINDOW} days per series, {args.copies} copies each")
    rows = [measure(s, args.windows, args.copies, args.seed) for s in real_series()]
    table(rows)
    summary(rows)
    batch(args.accounts, args.sample)


if __name__ == "__main__":
    main()
