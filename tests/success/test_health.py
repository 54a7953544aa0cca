"""Health scorecards: documents and their errors, weight redistribution, bands, trend, segments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.success.errors import ScorecardInvalid
from valueproof.success.health import (
    commitment_pace,
    compile_scorecards,
    engagement_recency,
    outcome_acceptance,
    plan_adherence,
    score_account,
    score_accounts,
    usage_vs_baseline,
)
from valueproof.success.scorecard import (
    DEFAULT_BANDS,
    KNOWN_MEASURES,
    parse_scorecard,
    read_scorecard,
)

SAMPLE = """
name: consumption
measures:
  - {key: usage_vs_baseline, weight: 3}
  - {key: commitment_pace, weight: 2}
  - {key: outcome_acceptance, weight: 1}
  - key: engagement_recency
    weight: 1
    shape: step
    bands: [{at: 0, points: 100}, {at: 30, points: 50}, {at: 90, points: 0}]
bands: [{name: healthy, min: 70}, {name: watch, min: 40}, {name: at_risk, min: 0}]
trend_dead_band: 5
segments:
  enterprise:
    measures:
      - {key: usage_vs_baseline, weight: 1}
      - {key: plan_adherence, weight: 1}
"""

MEASURES = sorted(KNOWN_MEASURES)


@pytest.fixture(scope="module")
def compiled():
    return compile_scorecards(read_scorecard(SAMPLE))


def test_reads_yaml_and_json_alike():
    import json

    import yaml

    assert read_scorecard(json.dumps(yaml.safe_load(SAMPLE))) == read_scorecard(SAMPLE)


def test_breakdown_explains_the_score(compiled):
    found = score_account(
        compiled, {"usage_vs_baseline": 1.0, "commitment_pace": 0.8, "engagement_recency": 40}
    )
    # usage 85 points, pace 50, recency 50 (step: 30 <= 40 < 90); acceptance missing: its weight
    # 1 of 7 goes to the others in proportion, 3:2:1 over 6.
    assert found.score == pytest.approx((3 * 85 + 2 * 50 + 1 * 50) / 6)  # 67.5
    assert found.band == "watch"
    by_key = {m.key: m for m in found.measures}
    assert by_key["outcome_acceptance"].raw is None
    assert by_key["outcome_acceptance"].effective_weight == 0
    assert by_key["usage_vs_baseline"].effective_weight == pytest.approx(0.5)
    assert sum(m.contribution for m in found.measures) == pytest.approx(found.score)
    assert found.trend is None


def test_linear_bands_interpolate_and_clamp(compiled):
    half = score_account(compiled, {"usage_vs_baseline": 0.9})
    assert half.score == pytest.approx(67.5)  # halfway between 0.8 -> 50 and 1.0 -> 85
    assert half.band == "watch"
    assert score_account(compiled, {"usage_vs_baseline": 9.0}).score == 100
    assert score_account(compiled, {"usage_vs_baseline": -3.0}).score == 0


def test_all_missing_gives_no_score_with_a_reason(compiled):
    found = score_account(compiled, {"usage_vs_baseline": None}, previous=50.0)
    assert found.score is None and found.band is None and found.trend is None
    assert found.reason == "no measure of its scorecard has a value"


def test_trend_with_dead_band(compiled):
    up = score_account(compiled, {"usage_vs_baseline": 1.0}, previous=70.0)
    assert up.trend is not None and up.trend.direction == "up"
    assert up.trend.delta == pytest.approx(15.0) and up.trend.previous == 70.0
    flat = score_account(compiled, {"usage_vs_baseline": 1.0}, previous=81.0)
    assert flat.trend is not None and flat.trend.direction == "flat"
    down = score_account(compiled, {"usage_vs_baseline": 0.5}, previous=20.0)
    assert down.trend is not None and down.trend.direction == "down"


def test_segment_scorecard_and_default_for_unknown_segment(compiled):
    values = {"usage_vs_baseline": 1.0, "commitment_pace": 0.5, "plan_adherence": 0.5}
    enterprise = score_account(compiled, values, segment="enterprise")
    assert [m.key for m in enterprise.measures] == ["usage_vs_baseline", "plan_adherence"]
    assert enterprise.score == pytest.approx((85 + 50) / 2)
    other = score_account(compiled, values, segment="smb")
    assert other.score == pytest.approx((3 * 85 + 2 * 0) / 5)


def test_many_accounts_match_one_by_one(compiled):
    rng = np.random.default_rng(7)
    n = 300
    values = {key: rng.uniform(0, 2, n) for key in MEASURES}
    values["engagement_recency"] = rng.uniform(0, 100, n)
    values["outcome_acceptance"][::4] = np.nan
    segments = ["enterprise" if i % 3 == 0 else None for i in range(n)]
    previous = rng.uniform(0, 100, n)
    table = score_accounts(compiled, values, segments, previous)
    for i in range(0, n, 37):
        one = score_account(
            compiled,
            {k: None if math.isnan(v[i]) else float(v[i]) for k, v in values.items()},
            segments[i],
            float(previous[i]),
        )
        assert table.breakdown(i) == one


def test_ten_thousand_accounts_score_quickly(compiled):
    import time

    rng = np.random.default_rng(1)
    n = 10_000
    values = {key: rng.uniform(0, 2, n) for key in MEASURES}
    start = time.perf_counter()
    table = score_accounts(compiled, values, ["enterprise", None] * (n // 2), np.full(n, 50.0))
    assert time.perf_counter() - start < 1.0
    assert np.all((table.scores >= 0) & (table.scores <= 100))


def test_rows_of_different_lengths_name_the_field(compiled):
    with pytest.raises(Exception, match=r"values\.commitment_pace: has 2 rows"):
        score_accounts(compiled, {"usage_vs_baseline": [1.0], "commitment_pace": [1.0, 2.0]})


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        ({"measures": []}, "measures", "at least 1"),
        (
            {"measures": [{"key": "usage_vs_baseline", "weight": 0}]},
            "measures[0].weight",
            "greater than 0",
        ),
        ({"measures": [{"key": "nps", "weight": 1}]}, "measures[0].key", "not a known measure"),
        (
            {"measures": [{"key": "nps", "weight": 1, "bands": [{"at": 1, "points": 101}]}]},
            "measures[0].bands[0].points",
            "less than or equal to 100",
        ),
        (
            {
                "measures": [
                    {"key": "nps", "weight": 1, "bands": [{"at": 5, "points": 0}, {"at": 1}]}
                ]
            },
            "measures[0].bands[1].points",
            "is missing",
        ),
        (
            {
                "measures": [
                    {
                        "key": "nps",
                        "weight": 1,
                        "bands": [{"at": 5, "points": 0}, {"at": 1, "points": 5}],
                    }
                ]
            },
            "measures[0].bands[1].at",
            "thresholds must increase",
        ),
        (
            {"measures": [{"key": "plan_adherence", "weight": 1}] * 2},
            "measures[1].key",
            "also [0]",
        ),
        (
            {
                "measures": [{"key": "plan_adherence", "weight": 1}],
                "bands": [{"name": "ok", "min": 40}, {"name": "bad", "min": 10}],
            },
            "bands[1].min",
            "the last band starts at 0",
        ),
        (
            {
                "measures": [{"key": "plan_adherence", "weight": 1}],
                "bands": [{"name": "ok", "min": 0}, {"name": "bad", "min": 10}],
            },
            "bands[1].min",
            "best to worst",
        ),
        (
            {
                "measures": [{"key": "plan_adherence", "weight": 1}],
                "segments": {"big": {"measures": [{"key": "x", "weight": 1}]}},
            },
            "segments.big.measures[0].key",
            "not a known measure",
        ),
        ({"measures": [{"key": "plan_adherence", "weight": 1}], "extra": 1}, "extra", "not"),
    ],
)
def test_errors_name_the_field(document, field, reason):
    with pytest.raises(ScorecardInvalid) as raised:
        parse_scorecard(document)
    assert any(path == field and reason in why for path, why in raised.value.problems), (
        raised.value.problems
    )


def test_malformed_text_is_a_document_error():
    with pytest.raises(ScorecardInvalid) as raised:
        read_scorecard("measures: [")
    assert raised.value.field == "(document)"


def test_raw_measures():
    assert usage_vs_baseline(90, 100) == pytest.approx(0.9)
    assert usage_vs_baseline(5, 0) is None
    assert commitment_pace(0.4, 0.5) == pytest.approx(0.8)
    assert commitment_pace(0.4, 0) is None
    assert outcome_acceptance(8, 10) == pytest.approx(0.8)
    assert outcome_acceptance(0, 0) is None
    assert plan_adherence(3, 4) == pytest.approx(0.75)
    assert plan_adherence(0, 0) is None
    assert engagement_recency(None) is None
    assert engagement_recency(-1) == 0


# --- properties ------------------------------------------------------------------------------

values = st.one_of(st.none(), st.floats(-10, 200, allow_nan=False))
weights = st.floats(0.01, 100)


def _card(weight_of: dict[str, float]):
    return compile_scorecards(
        parse_scorecard({"measures": [{"key": k, "weight": w} for k, w in weight_of.items()]})
    )


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries({k: weights for k in MEASURES}),
    st.fixed_dictionaries({k: values for k in MEASURES}),
)
def test_score_within_bounds_and_equal_to_weighted_mean_of_present(weight_of, raw):
    found = score_account(_card(weight_of), raw)
    present = [m for m in found.measures if m.raw is not None]
    if not present:
        assert found.score is None
        return
    assert found.score is not None and 0 <= found.score <= 100
    expected = sum(m.points * weight_of[m.key] for m in present) / sum(
        weight_of[m.key] for m in present
    )
    assert found.score == pytest.approx(expected)
    assert sum(m.effective_weight for m in present) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries({k: weights for k in MEASURES}),
    st.fixed_dictionaries({k: values for k in MEASURES}),
    st.floats(0.01, 1000),
)
def test_scaling_every_weight_changes_nothing(weight_of, raw, factor):
    before = score_account(_card(weight_of), raw).score
    after = score_account(_card({k: w * factor for k, w in weight_of.items()}), raw).score
    assert (before is None and after is None) or after == pytest.approx(before)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([k for k in MEASURES if k != "engagement_recency"]),
    st.fixed_dictionaries({k: values for k in MEASURES}),
    st.floats(-1, 3),
    st.floats(0, 2),
)
def test_score_rises_with_a_measure_whose_bands_rise(key, raw, low, step):
    card = _card({k: 1.0 for k in MEASURES})
    lower = score_account(card, {**raw, key: low}).score
    higher = score_account(card, {**raw, key: low + step}).score
    assert lower is not None and higher is not None
    assert higher >= lower - 1e-9
    recency_card = _card({"engagement_recency": 1.0})
    fresher = score_account(recency_card, {"engagement_recency": 10.0}).score
    staler = score_account(recency_card, {"engagement_recency": 10.0 + 100 * step}).score
    assert fresher is not None and staler is not None and fresher >= staler


def test_default_bands_cover_every_known_measure():
    assert set(DEFAULT_BANDS) == KNOWN_MEASURES
