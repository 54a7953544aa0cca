"""Seasonality and seasonal-baseline benchmark: every account's periods and baseline in one batch.

The data: N accounts x two calendar years (731 days) of daily usage drawn like the demo book's
(product lines' weekly and yearly shapes, per-account trend and amplitudes, lognormal day noise
on Poisson counts), built directly as a matrix so that setup takes seconds, not the hours that
streaming every event would.

Figures, each beside its baseline in the same run:
- the batch: `detect_seasonality_batch` then `check_recent` (baseline fitted before the last 28
  days, expected / lower / upper / below / above for each of them) for all N accounts, with peak
  memory (tracemalloc's peak of traced allocations, and the process's peak RSS);
- against the straightforward per-account loop (`reference.reference_seasonality`, statsmodels
  MSTL, then `reference.reference_baseline`, MSTL + ETS) timed on a sample and scaled to N;
  how often the two agree on the detected periods is printed too;
- one account's refresh (`check_recent` on a single series, detection included): p50 and p95.

    .venv/bin/python benchmarks/seasonality.py                    # 10,000 accounts
    .venv/bin/python benchmarks/seasonality.py --accounts 1000 --sample 10
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from valueproof.demo.accounts import draw_account
from valueproof.demo.lines import LINES, weekly_multipliers, yearly_multipliers
from valueproof.success.baseline import check_recent
from valueproof.success.reference import reference_baseline, reference_seasonality
from valueproof.success.seasonality import detect_seasonality_batch

END = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 731  # 2024-01-01 .. 2025-12-31: two calendar years, one more day than MSTL's yearly needs
CHECK_DAYS = 28


def say(text: str) -> None:
    print(text, flush=True)


def usage_matrix(accounts: int, seed: int = 7, days: int = DAYS) -> np.ndarray:
    """Daily usage (accounts x `days`, ending on END) with the demo book's shapes, drawn without
    events."""
    rng = np.random.default_rng(seed)
    first_day = (END.date() - datetime(1970, 1, 1).date()).days - days
    dates = np.arange(first_day, first_day + days)
    matrix = np.empty((accounts, days))
    for index in range(accounts):
        account = draw_account(seed, END, index, set())
        line, profile = LINES[account.attributes["product"]], account.profile
        weekly = weekly_multipliers(line, profile.weekly_amplitude)[(dates + 3) % 7]
        yearly = yearly_multipliers(line, profile.yearly_amplitude, dates + 0.5)
        trend = (1.0 + profile.trend_per_year) ** ((dates - dates[0]) / 365.25)
        level = profile.base_daily_volume * trend * weekly * yearly
        matrix[index] = rng.poisson(level * rng.lognormal(-0.01125, 0.15, days))
    return matrix


def peak_rss_mib() -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def batch(matrix: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Seconds and traced peak MiB of the fast path over every account; its detected periods."""
    tracemalloc.start()
    started = time.perf_counter()
    table = detect_seasonality_batch(matrix)
    check = check_recent(matrix, CHECK_DAYS, seasonality=table)
    elapsed = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert check.expected.shape == (len(matrix), CHECK_DAYS)
    return elapsed, peak / 2**20, table.detected


def loop(matrix: np.ndarray, rows: Sequence[int]) -> tuple[float, list[tuple[float, ...]]]:
    """Seconds per account of the statsmodels loop on `rows`, and the periods it detected."""
    found = []
    started = time.perf_counter()
    for row in rows:
        seasonality = reference_seasonality(matrix[row])
        history = matrix[row, :-CHECK_DAYS]
        lags = [round(p.period) for p in seasonality.detected if len(history) > 2 * p.period]
        reference_baseline(history, CHECK_DAYS, lags)
        found.append(seasonality.detected_periods)
    return (time.perf_counter() - started) / len(rows), found


def single_refresh(matrix: np.ndarray, samples: int) -> tuple[float, float]:
    """p50 and p95 milliseconds of one account's refresh (detection and baseline)."""
    rng = np.random.default_rng(1)
    check_recent(matrix[0], CHECK_DAYS)  # warm the cached Fourier design, as a server would be
    times = []
    for row in rng.integers(0, len(matrix), samples):
        started = time.perf_counter()
        check_recent(matrix[row], CHECK_DAYS)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=40, help="accounts in the statsmodels loop")
    parser.add_argument("--refreshes", type=int, default=200)
    args = parser.parse_args(argv)

    say(f"machine: {machine()}")
    started = time.perf_counter()
    matrix = usage_matrix(args.accounts)
    say(f"setup: {args.accounts} accounts x {DAYS} days in {time.perf_counter() - started:.1f} s")

    seconds, traced_mib, detected = batch(matrix)
    say(
        f"fast path (seasonality + baseline, all accounts): {seconds:.2f} s, "
        f"{args.accounts / seconds:,.0f} accounts/s, traced peak {traced_mib:,.0f} MiB"
    )
    p50, p95 = single_refresh(matrix, args.refreshes)
    say(f"one account's refresh: p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal <= 100 ms)")

    rows = np.random.default_rng(2).choice(args.accounts, args.sample, replace=False)
    per_account, reference = loop(matrix, rows.tolist())
    projected = per_account * args.accounts
    table = detect_seasonality_batch(matrix[rows])
    agree = np.mean([table.account(i).detected_periods == p for i, p in enumerate(reference)])
    say(
        f"statsmodels loop (MSTL + ETS, {args.sample} accounts): {per_account * 1000:.0f} ms an "
        f"account, {projected:,.0f} s projected for {args.accounts}; fast path is "
        f"{projected / seconds:,.0f}x faster; same periods on {agree:.0%} of the sample"
    )
    say(f"process peak RSS: {peak_rss_mib():,.0f} MiB")
    shares = detected.mean(axis=0)
    say(f"detected share weekly / monthly / yearly: {' / '.join(f'{s:.0%}' for s in shares)}")


if __name__ == "__main__":
    main()
