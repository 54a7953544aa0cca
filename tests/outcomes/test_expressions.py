"""Tests for outcomes/expressions.py: a batch evaluates each expression as running it claim by
claim would (the memo of distinct values, the direct calls of our functions)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from valueproof.outcomes.definitions import (
    CEL_ERRORS,
    CompiledDefinition,
    DefinitionInvalid,
    Expression,
    compile_definition,
    parse_definition,
)
from valueproof.outcomes.expressions import direct_chain
from valueproof.outcomes.verification import failing_criteria, failing_criteria_batch

DEFINITION: dict[str, Any] = {
    "contract": "acme",
    "outcome": "lead",
    "attributes": {
        "email": {"type": "string", "required": True},
        "n": {"type": "number"},
        "k": {"type": "integer"},
        "flag": {"type": "boolean"},
    },
    "criteria": [
        {"name": "shown", "expression": 'string(claim.n) != "0"'},
        {"name": "big", "expression": "claim.k > 10"},
        {"name": "both", "expression": "claim.flag && claim.n > 0.5"},
        {"name": "domain", "expression": 'email_domain(claim.email) != "spam.example"'},
        {"name": "present", "expression": "has(claim.k)"},
    ],
    "dedupe_key": "lower(trim(claim.email))",
    "known_key": "normalize(claim.email)",
    "verification_window_days": 30,
    "dispute_window_days": 0,
}
COMPILED = compile_definition(parse_definition(DEFINITION))


def one_by_one(compiled: CompiledDefinition, expression: Expression, item: Any) -> Any:
    try:
        return compiled.run(expression.program, item, expression.flat)
    except CEL_ERRORS as error:
        return error


def same(left: list[Any], right: list[Any]) -> bool:
    """Equal results, errors compared by type and text; 1 and True are not the same result."""

    def form(value: Any) -> Any:
        if isinstance(value, BaseException):
            return (type(value), str(value))
        return (type(value), repr(value))

    return [form(v) for v in left] == [form(v) for v in right]


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-20, 20),
    st.sampled_from([0.0, -0.0, 1.0, 0.75, 12.0]),
    st.sampled_from(["", "0", "x@spam.example", " A@B.example "]),
)
CLAIMS = st.lists(
    st.fixed_dictionaries(
        {"email": st.sampled_from(["a@spam.example", "B@Ok.example ", "c"])},
        optional={"n": VALUES, "k": VALUES, "flag": VALUES},
    ),
    max_size=12,
)


@settings(deadline=None)  # CEL on a shared machine: timing is not what is tested
@given(CLAIMS)
def test_a_batch_gives_each_expression_what_one_claim_at_a_time_gives(batch: list[Any]) -> None:
    items = [{name: value for name, value in item.items() if value is not None} for item in batch]
    expressions = [*COMPILED.criteria, COMPILED.dedupe_key, COMPILED.known_key]
    for expression in expressions:
        assert expression is not None
        expected = [one_by_one(COMPILED, expression, item) for item in items]
        assert same(COMPILED.run_each(expression, items), expected), expression.source


@settings(deadline=None)
@given(CLAIMS)
def test_failing_criteria_of_a_batch_are_those_of_each_claim(batch: list[Any]) -> None:
    items = [{name: value for name, value in item.items() if value is not None} for item in batch]
    together = failing_criteria_batch(COMPILED, items)
    alone = [failing_criteria(COMPILED, item) for item in items]
    assert [[c.name for c, _ in found] for found in together] == [
        [c.name for c, _ in found] for found in alone
    ]
    for found, expected in zip(together, alone, strict=True):
        assert same([r for _, r in found], [r for _, r in expected])


def test_the_memo_keeps_values_cel_tells_apart() -> None:
    shown = COMPILED.criteria[0]
    items = [{"n": 0.0}, {"n": -0.0}, {"n": 0}, {"n": False}, {"n": 0.0}]
    results = COMPILED.run_each(shown, items)
    assert same(results, [one_by_one(COMPILED, shown, item) for item in items])


@settings(deadline=None)
@given(st.text(max_size=40))
@example("\ud800@x")  # a lone surrogate: CEL cannot take it, so neither may the direct call
@example("  ÉCOLE@Straße.example ")
def test_our_functions_called_directly_give_what_cel_gives(email: str) -> None:
    for expression in (COMPILED.dedupe_key, COMPILED.known_key):
        assert expression is not None and expression.direct is not None
        got = COMPILED.run_each(expression, [{"email": email}])
        assert same(got, [one_by_one(COMPILED, expression, {"email": email})])


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("claim.email", ((), "email")),
        ("lower(trim(claim.email))", (("lower", "trim"), "email")),
        ("normalize( claim . email ) // the address", (("normalize",), "email")),
        ('lower(claim.email) + "x"', None),
        ("size(claim.email)", None),
        ("claim.email.size()", None),
        ('claim["email"]', None),
        ("lower(claim.email, 1)", None),
        ("lower()", None),
    ],
)
def test_direct_chains_are_only_our_functions_around_one_attribute(
    source: str, expected: Any
) -> None:
    assert direct_chain(source) == expected


def test_a_key_over_a_non_string_attribute_is_refused_when_defined() -> None:
    # lower() of an integer fails on every claim: the definition is refused, not each claim.
    document = {
        **DEFINITION,
        "dedupe_key": "lower(claim.k)",
        "attributes": {**DEFINITION["attributes"], "k": {"type": "integer", "required": True}},
    }
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition(document)
    assert refused.value.problems == (
        ("dedupe_key", "line 1, column 1: lower() takes a string, not an int"),
    )
