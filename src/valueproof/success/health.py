"""Health scores: a scorecard (scorecard.py) compiled once into arrays, so that ten thousand
accounts score in a few vectorized passes; and the raw measures a consumption business scores.

Each measure turns its raw value into 0..100 points through its bands (piecewise-linear between
thresholds, or steps); a measure with no value gives its weight to the present ones in proportion;
the score is the weighted mean of the present measures' points, named by the overall band it falls
in, with a trend against the previous score. Every score keeps its breakdown so a CSM sees why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput
from valueproof.success.scorecard import Band, Measure, Scorecard, Shape

__all__ = [
    "CompiledScorecard",
    "CompiledScorecards",
    "HealthScore",
    "HealthTable",
    "MeasureScore",
    "Trend",
    "commitment_pace",
    "compile_scorecards",
    "engagement_recency",
    "outcome_acceptance",
    "plan_adherence",
    "score_account",
    "score_accounts",
    "usage_vs_baseline",
]

Floats = npt.NDArray[np.float64]


# --- raw measures --------------------------------------------------------------------------


def usage_vs_baseline(actual: float, expected: float) -> float | None:
    """Usage over the account's own seasonal norm for the same days (1.0 is on norm); None
    without a positive norm, since a ratio to nothing says nothing."""
    return actual / expected if expected > 0 else None


def commitment_pace(used_share: float, elapsed_share: float) -> float | None:
    """Share of the commitment used over share of the term elapsed (1.0 burns it exactly)."""
    return used_share / elapsed_share if elapsed_share > 0 else None


def outcome_acceptance(accepted: int, decided: int) -> float | None:
    """Accepted outcomes over those with a verdict; None when the account has none yet."""
    return accepted / decided if decided > 0 else None


def plan_adherence(done: int, due: int) -> float | None:
    """Success-plan actions done over those due so far; None without a plan or a due action."""
    return done / due if due > 0 else None


def engagement_recency(days_since_last: float | None) -> float | None:
    """Days since the last engagement; None when there never was one (the scorecard's bands,
    not a made-up number, should then decide: leave it missing or pass a large value)."""
    return None if days_since_last is None else max(0.0, float(days_since_last))


# --- the compiled form ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class CompiledScorecard:
    """One scorecard as arrays: weights, each measure's thresholds, the overall band floors."""

    keys: tuple[str, ...]
    weights: Floats
    shapes: tuple[Shape, ...]
    xs: tuple[Floats, ...]
    ys: tuple[Floats, ...]
    band_names: tuple[str, ...]  # best first
    band_floors: Floats
    dead_band: float

    def points(self, values: Floats) -> Floats:
        """(n, m) points of raw values (n, m), columns in `keys` order; NaN stays NaN."""
        out = np.full(values.shape, np.nan)
        for j, (shape, xs, ys) in enumerate(zip(self.shapes, self.xs, self.ys, strict=True)):
            column = values[:, j]
            present = ~np.isnan(column)
            if shape is Shape.LINEAR:
                out[present, j] = np.interp(column[present], xs, ys)
            else:
                at = np.searchsorted(xs, column[present], side="right") - 1
                out[present, j] = ys[np.clip(at, 0, None)]
        return out

    def band_of(self, scores: Floats) -> npt.NDArray[np.int64]:
        """Index into `band_names` of each score (floors descend); -1 for no score."""
        # Floors descend, so the first floor at or below the score is its band.
        index = np.sum(scores[:, None] < self.band_floors[None, :], axis=1)
        return np.where(np.isnan(scores), -1, index)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledScorecards:
    """A scorecard document compiled: the default and each segment's."""

    default: CompiledScorecard
    segments: Mapping[str, CompiledScorecard]

    def for_segment(self, segment: str | None) -> CompiledScorecard:
        """The segment's scorecard, or the default for no or an unknown segment."""
        return self.segments.get(segment, self.default) if segment else self.default


def compile_scorecards(scorecard: Scorecard) -> CompiledScorecards:
    """Compile a validated scorecard once; scoring then runs on arrays only."""
    default = _compile(scorecard.measures, scorecard.bands, scorecard.trend_dead_band)
    segments = {
        key: _compile(
            s.measures,
            s.bands if s.bands is not None else scorecard.bands,
            s.trend_dead_band if s.trend_dead_band is not None else scorecard.trend_dead_band,
        )
        for key, s in scorecard.segments.items()
    }
    return CompiledScorecards(default, segments)


def _compile(measures: Sequence[Measure], bands: Sequence[Band], dead: float) -> CompiledScorecard:
    pairs = [m.thresholds() for m in measures]
    return CompiledScorecard(
        keys=tuple(m.key for m in measures),
        weights=np.array([m.weight for m in measures], dtype=np.float64),
        shapes=tuple(m.shape for m in measures),
        xs=tuple(np.array([x for x, _ in p], dtype=np.float64) for p in pairs),
        ys=tuple(np.array([y for _, y in p], dtype=np.float64) for p in pairs),
        band_names=tuple(b.name for b in bands),
        band_floors=np.array([b.min for b in bands], dtype=np.float64),
        dead_band=dead,
    )


# --- scores --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasureScore:
    """How one measure counted: its raw value, points, weight after redistribution and share."""

    key: str
    raw: float | None
    points: float | None
    weight: float  # as configured
    effective_weight: float  # 0 when missing; the present ones' sum to 1
    contribution: float  # points x effective weight; the contributions sum to the score


@dataclass(frozen=True, slots=True)
class Trend:
    """The change against the previous score; `direction` is up, down or flat (dead-band)."""

    previous: float
    delta: float
    direction: str


@dataclass(frozen=True, slots=True)
class HealthScore:
    """An account's health: score 0..100 and band, or None with the reason; and why."""

    segment: str | None
    score: float | None
    band: str | None
    measures: tuple[MeasureScore, ...]
    trend: Trend | None
    reason: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class HealthTable:
    """Scores of many accounts as columns; `breakdown(i)` gives one account's HealthScore."""

    segments: tuple[str | None, ...]
    scores: Floats  # NaN: no score
    bands: tuple[str | None, ...]
    previous: Floats  # NaN: none
    deltas: Floats  # NaN without a previous score or without a score
    directions: tuple[str | None, ...]
    measure_keys: tuple[str, ...]  # columns of the matrices below: every scorecard's measures
    raw: Floats  # (n, M) NaN where missing or not in the account's scorecard
    points: Floats
    effective_weights: Floats  # 0 where missing or not in the account's scorecard
    weights: Floats  # configured; 0 where not in the account's scorecard

    def breakdown(self, i: int) -> HealthScore:
        """Account i's score with each measure of its scorecard."""
        measures = tuple(
            MeasureScore(
                key=key,
                raw=_maybe(self.raw[i, j]),
                points=_maybe(self.points[i, j]),
                weight=float(self.weights[i, j]),
                effective_weight=float(self.effective_weights[i, j]),
                contribution=float(np.nan_to_num(self.points[i, j] * self.effective_weights[i, j])),
            )
            for j, key in enumerate(self.measure_keys)
            if self.weights[i, j] > 0
        )
        score = _maybe(self.scores[i])
        trend = None
        if not np.isnan(self.deltas[i]) and score is not None:
            delta = float(self.deltas[i])
            trend = Trend(float(self.previous[i]), delta, self.directions[i] or "flat")
        reason = None if score is not None else "no measure of its scorecard has a value"
        return HealthScore(self.segments[i], score, self.bands[i], measures, trend, reason)


def score_accounts(
    compiled: CompiledScorecards,
    values: Mapping[str, npt.ArrayLike],
    segments: Sequence[str | None] | None = None,
    previous: npt.ArrayLike | None = None,
) -> HealthTable:
    """Score n accounts at once: `values` maps a measure key to n raw values (None or NaN when
    missing; a key left out is missing everywhere), `segments` each account's segment (None:
    the default scorecard), `previous` each account's previous score (NaN: none)."""
    columns = {key: _column(v) for key, v in values.items()}
    n = _row_count(columns, segments, previous)
    segs: tuple[str | None, ...] = tuple(segments) if segments is not None else (None,) * n
    cards = [compiled.default, *compiled.segments.values()]
    position = {key: i + 1 for i, key in enumerate(compiled.segments)}
    card_of = np.array([position.get(s, 0) if s else 0 for s in segs], dtype=np.int64)
    keys = tuple(dict.fromkeys(k for card in cards for k in card.keys))
    where = {k: j for j, k in enumerate(keys)}
    raw = np.full((n, len(keys)), np.nan)
    for key, column in columns.items():
        if key in where:
            raw[:, where[key]] = column
    points = np.full_like(raw, np.nan)
    effective = np.zeros_like(raw)
    weights = np.zeros_like(raw)
    scores = np.full(n, np.nan)
    band_index = np.full(n, -1, dtype=np.int64)
    deads = np.zeros(n)
    for c, card in enumerate(cards):
        rows = np.flatnonzero(card_of == c)
        if not rows.size:
            continue
        cols = np.array([where[k] for k in card.keys])
        card_points = card.points(raw[np.ix_(rows, cols)])
        # A missing measure's weight goes to the present ones in proportion to theirs.
        w = np.where(np.isnan(card_points), 0.0, card.weights[None, :])
        total = w.sum(axis=1, keepdims=True)
        share = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
        weighted = np.nansum(card_points * share, axis=1)
        # Clipped: a weighted mean of points in 0..100 may round a hair outside.
        card_scores = np.where(total[:, 0] > 0, np.clip(weighted, 0.0, 100.0), np.nan)
        points[np.ix_(rows, cols)] = card_points
        effective[np.ix_(rows, cols)] = share
        weights[np.ix_(rows, cols)] = card.weights[None, :]
        scores[rows] = card_scores
        band_index[rows] = card.band_of(card_scores)
        deads[rows] = card.dead_band
    bands = tuple(
        cards[c].band_names[b] if b >= 0 else None
        for c, b in zip(card_of.tolist(), band_index.tolist(), strict=True)
    )
    before = np.full(n, np.nan) if previous is None else _column(previous)
    deltas = scores - before
    directions = tuple(
        None if np.isnan(d) else "up" if d > dead else "down" if d < -dead else "flat"
        for d, dead in zip(deltas.tolist(), deads.tolist(), strict=True)
    )
    return HealthTable(
        segs, scores, bands, before, deltas, directions, keys, raw, points, effective, weights
    )


def score_account(
    compiled: CompiledScorecards,
    values: Mapping[str, float | None],
    segment: str | None = None,
    previous: float | None = None,
) -> HealthScore:
    """One account's HealthScore (the same computation as score_accounts, for a single row)."""
    table = score_accounts(
        compiled,
        {k: [np.nan if v is None else v] for k, v in values.items()},
        [segment],
        [np.nan if previous is None else previous],
    )
    return table.breakdown(0)


def _column(values: npt.ArrayLike) -> Floats:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _row_count(
    columns: Mapping[str, Floats],
    segments: Sequence[str | None] | None,
    previous: npt.ArrayLike | None,
) -> int:
    lengths = {f"values.{k}": len(v) for k, v in columns.items()}
    if segments is not None:
        lengths["segments"] = len(segments)
    if previous is not None:
        lengths["previous"] = int(np.asarray(previous).size)
    if not lengths:
        raise InvalidInput("values", "no measure values and no segments: nothing to score")
    n = next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != n:
            raise InvalidInput(name, f"has {length} rows; expected {n} like the first")
    return n


def _maybe(value: float | np.floating[Any]) -> float | None:
    return None if np.isnan(value) else float(value)
