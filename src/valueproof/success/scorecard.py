"""Health scorecards as documents (YAML or JSON): the measures, their weights and bands, the
overall bands and per-segment scorecards, validated with every problem named by its field path.
health.py compiles and scores them.

Bands map a measure's raw value to 0..100 points: `linear` interpolates between thresholds and is
flat beyond the ends; `step` gives the points of the highest threshold at or below the value.
A measure key is one of KNOWN_MEASURES (bands optional: DEFAULT_BANDS) or a custom key the
caller supplies values for, which must give its bands.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valueproof.documents import load_document
from valueproof.errors import DocumentUnreadable, field_path, validation_reason
from valueproof.success.errors import ScorecardInvalid

__all__ = [
    "DEFAULT_BANDS",
    "KNOWN_MEASURES",
    "Band",
    "BandPoint",
    "Measure",
    "Scorecard",
    "SegmentScorecard",
    "Shape",
    "parse_scorecard",
    "read_scorecard",
]

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

# Points per raw value for the measures a consumption business needs, as (value, points) pairs;
# a scorecard may override them. Ratios are 1.0 on norm; recency is in days (fewer is better).
DEFAULT_BANDS: dict[str, tuple[tuple[float, float], ...]] = {
    "usage_vs_baseline": ((0.5, 0.0), (0.8, 50.0), (1.0, 85.0), (1.2, 100.0)),
    "commitment_pace": ((0.5, 0.0), (0.8, 50.0), (1.0, 90.0), (1.1, 100.0)),
    "outcome_acceptance": ((0.5, 0.0), (0.8, 60.0), (0.95, 100.0)),
    "plan_adherence": ((0.0, 0.0), (0.5, 50.0), (0.9, 100.0)),
    "engagement_recency": ((7.0, 100.0), (30.0, 70.0), (60.0, 30.0), (90.0, 0.0)),
}
KNOWN_MEASURES = frozenset(DEFAULT_BANDS)


# --- the document --------------------------------------------------------------------------


class Shape(StrEnum):
    LINEAR = "linear"  # points interpolated between thresholds, flat beyond the ends
    STEP = "step"  # the points of the highest threshold at or below the value


class BandPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: float = Field(allow_inf_nan=False, description="Raw value of the threshold.")
    points: float = Field(ge=0, le=100, description="Points at the threshold (0..100).")


class Measure(BaseModel):
    """One measure of a scorecard: its weight and how raw values become points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    weight: float = Field(gt=0, allow_inf_nan=False)
    shape: Shape = Shape.LINEAR
    bands: list[BandPoint] | None = Field(default=None, min_length=1, max_length=50)
    label: str = ""

    def thresholds(self) -> tuple[tuple[float, float], ...]:
        if self.bands is None:
            return DEFAULT_BANDS[self.key]
        return tuple((b.at, b.points) for b in self.bands)


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=KEY_PATTERN)
    min: float = Field(ge=0, le=100, description="Lowest score in this band.")


_DEFAULT_OVERALL = (
    Band(name="healthy", min=70),
    Band(name="watch", min=40),
    Band(name="at_risk", min=0),
)


class SegmentScorecard(BaseModel):
    """The scorecard of one segment; bands and dead-band left out are the default's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measures: list[Measure] = Field(min_length=1, max_length=50)
    bands: list[Band] | None = Field(default=None, min_length=1, max_length=20)
    trend_dead_band: float | None = Field(default=None, ge=0, le=100)


class Scorecard(BaseModel):
    """A health scorecard: the default measures and bands, and per-segment scorecards."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="health", pattern=KEY_PATTERN)
    measures: list[Measure] = Field(min_length=1, max_length=50)
    bands: list[Band] = Field(default_factory=lambda: list(_DEFAULT_OVERALL), max_length=20)
    trend_dead_band: float = Field(
        default=5.0, ge=0, le=100, description="A change within ± this many points is flat."
    )
    segments: dict[str, SegmentScorecard] = Field(default_factory=dict, max_length=200)


def read_scorecard(text: str) -> Scorecard:
    """Parse a scorecard written as JSON or YAML, then validate it."""
    try:
        data = load_document(text)
    except DocumentUnreadable as error:
        raise ScorecardInvalid([("(document)", str(error))]) from None
    return parse_scorecard(data)


def parse_scorecard(data: Any) -> Scorecard:
    """Validate a scorecard document; ScorecardInvalid lists every problem with its path."""
    if not isinstance(data, dict):
        raise ScorecardInvalid([("(document)", "a scorecard is a mapping (YAML or JSON object)")])
    try:
        scorecard = Scorecard.model_validate(data)
    except ValidationError as error:
        problems = [
            (field_path(e["loc"]) or "(document)", validation_reason(e)) for e in error.errors()
        ]
        raise ScorecardInvalid(problems) from None
    problems = _structure_problems("", scorecard.measures, scorecard.bands)
    for key, segment in scorecard.segments.items():
        problems += _structure_problems(f"segments.{key}.", segment.measures, segment.bands)
    if problems:
        raise ScorecardInvalid(problems)
    return scorecard


def _structure_problems(
    prefix: str, measures: Sequence[Measure], bands: Sequence[Band] | None
) -> list[tuple[str, str]]:
    problems = []
    seen: dict[str, int] = {}
    for i, measure in enumerate(measures):
        if measure.bands is None and measure.key not in KNOWN_MEASURES:
            known = ", ".join(sorted(KNOWN_MEASURES))
            problems.append(
                (
                    f"{prefix}measures[{i}].key",
                    f"{measure.key!r} is not a known measure ({known}); give its bands",
                )
            )
        first = seen.setdefault(measure.key, i)
        if first != i:
            problems.append((f"{prefix}measures[{i}].key", f"{measure.key!r} is also [{first}]"))
        for j in range(1, len(measure.bands or ())):
            if measure.bands and measure.bands[j].at <= measure.bands[j - 1].at:
                problems.append(
                    (f"{prefix}measures[{i}].bands[{j}].at", "thresholds must increase")
                )
    if bands is not None:
        for j in range(1, len(bands)):
            if bands[j].min >= bands[j - 1].min:
                problems.append((f"{prefix}bands[{j}].min", "bands go from best to worst"))
        if bands and bands[-1].min != 0:
            problems.append((f"{prefix}bands[{len(bands) - 1}].min", "the last band starts at 0"))
    return problems
