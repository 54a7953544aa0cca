"""Rule-based segments: first match wins, every matching rule for tags, CEL errors by field."""

from __future__ import annotations

import pytest

from valueproof.success.errors import SegmentsInvalid
from valueproof.success.segments import (
    assign_segment,
    compile_segment_rules,
    matching_segments,
    parse_segment_rules,
    read_segment_rules,
)

RULES = """
rules:
  - segment: strategic
    when: 'revenue.arr >= 100000 && account.tier == "gold"'
  - segment: seasonal
    when: 'has(usage.seasonality_strength) && usage.seasonality_strength > 0.5'
  - segment: logistics
    when: 'account.industry in ["logistics", "freight"]'
default: long_tail
"""


@pytest.fixture(scope="module")
def compiled():
    return compile_segment_rules(read_segment_rules(RULES))


def test_first_matching_rule_wins(compiled):
    found = assign_segment(
        compiled,
        {"tier": "gold", "industry": "logistics"},
        {"arr": 250_000},
        {"seasonality_strength": 0.8},
    )
    assert found.segment == "strategic"
    assert found.rule == "rules[0].when"
    assert found.errors == ()


def test_later_rule_and_default(compiled):
    seasonal = assign_segment(
        compiled, {"tier": "silver"}, {"arr": 10}, {"seasonality_strength": 0.7}
    )
    assert seasonal.segment == "seasonal"
    nothing = assign_segment(
        compiled, {"tier": "silver", "industry": "retail"}, {"arr": 10}, {"volume": 3.0}
    )
    assert (nothing.segment, nothing.rule) == ("long_tail", None)


def test_a_rule_that_fails_on_the_data_counts_as_no_match_and_is_reported(compiled):
    # No `tier` attribute: rule 0 cannot be evaluated; the logistics rule still matches.
    found = assign_segment(compiled, {"industry": "freight"}, {"arr": 500_000}, {})
    assert found.segment == "logistics"
    assert found.errors == (("rules[0].when", "no such key 'tier'"),)


def test_every_matching_segment_for_tags(compiled):
    tags = matching_segments(
        compiled,
        {"tier": "gold", "industry": "logistics"},
        {"arr": 250_000.0},
        {"seasonality_strength": 0.8},
    )
    assert tags == ("strategic", "seasonal", "logistics")


def test_two_rules_may_name_one_segment():
    compiled = compile_segment_rules(
        parse_segment_rules(
            {
                "rules": [
                    {"segment": "big", "when": "revenue.arr > 1000.0"},
                    {"segment": "big", "when": "usage.volume > 50"},
                ]
            }
        )
    )
    assert assign_segment(compiled, {}, {"arr": 1.0}, {"volume": 60.0}).segment == "big"
    assert matching_segments(compiled, {}, {"arr": 2000}, {"volume": 60}) == ("big",)


def test_decimal_revenue_is_compared_as_a_number(compiled):
    from decimal import Decimal

    found = assign_segment(compiled, {"tier": "gold"}, {"arr": Decimal("100000.00")}, {})
    assert found.segment == "strategic"


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("account.tier ==", "invalid CEL"),
        ("plan.tier == 'x'", "uses the variable 'plan'"),
        ("shout(account.name)", "calls 'shout'"),
        ("1 + 2", "must give true or false"),
    ],
)
def test_invalid_cel_names_the_rule(when, reason):
    document = {
        "rules": [{"segment": "ok", "when": "true"}, {"segment": "bad", "when": when}],
    }
    with pytest.raises(SegmentsInvalid) as raised:
        parse_segment_rules(document)
    assert raised.value.field == "rules[1].when"
    assert reason in raised.value.reason


def test_comprehension_variables_are_allowed():
    rules = parse_segment_rules(
        {"rules": [{"segment": "multi", "when": "account.regions.exists(r, r == 'eu')"}]}
    )
    compiled = compile_segment_rules(rules)
    assert assign_segment(compiled, {"regions": ["us", "eu"]}, {}, {}).segment == "multi"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"rules": []}, "rules"),
        ({"rules": [{"segment": "Big Ones", "when": "true"}]}, "rules[0].segment"),
        ({"rules": [{"segment": "big"}]}, "rules[0].when"),
        ({"rules": [{"segment": "big", "when": "true"}], "default": ""}, "default"),
    ],
)
def test_document_errors_name_the_field(document, field):
    with pytest.raises(SegmentsInvalid) as raised:
        parse_segment_rules(document)
    assert raised.value.field == field


def test_malformed_text():
    with pytest.raises(SegmentsInvalid) as raised:
        read_segment_rules("rules: [")
    assert raised.value.field == "(document)"
