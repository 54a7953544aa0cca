"""The static CEL type checker: clashes are refused with their line and column, whatever is
well typed is accepted (and runs without a type error in the `cel` package), and every
expression of the documentation and the examples still passes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.validation import parse_contract
from valueproof.outcomes.cel_syntax import Unparsed, parse, position
from valueproof.outcomes.cel_types import (
    BOOL,
    DOUBLE,
    INT,
    STRING,
    TIMESTAMP,
    CelType,
    record,
    type_problems,
)
from valueproof.outcomes.definitions import DefinitionInvalid, parse_definition

ROOT = Path(__file__).resolve().parents[2]
CLAIM = record(industry=STRING, employees=DOUBLE, seats=INT, consent=BOOL, signed=TIMESTAMP)
VARIABLES = {"claim": CLAIM}
OURS = {"lower": STRING, "trim": STRING, "email_domain": STRING, "normalize": STRING}
SAMPLE: dict[str, Any] = {
    "industry": "saas",
    "employees": 120.5,
    "seats": 7,
    "consent": True,
    "signed": datetime(2026, 3, 1, tzinfo=UTC),
}
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "industry": {"type": "string", "required": True},
        "employees": {"type": "number"},
        "signed": {"type": "timestamp"},
    },
    "dedupe_key": "claim.industry",
    "verification_window_days": 30,
    "dispute_window_days": 30,
}


def check(source: str, gives: CelType | None = BOOL) -> list[str]:
    return type_problems(source, VARIABLES, gives, OURS)


def run(source: str) -> Any:
    import cel

    context = cel.Context(variables={"claim": SAMPLE})
    for name in OURS:
        context.add_function(name, str.lower)
    return cel.compile(source).execute(context)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "claim.industry >= 50",
            "line 1, column 16: >= compares a string with an int; CEL never converts between "
            "types (convert with double(...), int(...), timestamp(...) or string(...))",
        ),
        ("claim.employees * 2 > 10", "line 1, column 17: * is not defined for a double and an int"),
        ("claim.signed > '2026-01-01'", "line 1, column 14: > compares a timestamp with a string"),
        ("claim.consent == 'yes'", "line 1, column 15: == compares a bool with a string: always"),
        ("claim.employees in ['a']", "line 1, column 17: in looks for a double in a list(string)"),
        ("lower(claim.seats) == 'x'", "line 1, column 1: lower() takes a string, not an int"),
        ("claim.industry.getFullYear() > 2000", "line 1, column 16: getFullYear() reads a"),
        ("!claim.seats", "line 1, column 1: ! needs true or false, not an int"),
        ("claim.seats && true", "line 1, column 13: && needs true or false on each side"),
        ("claim.industry", "line 1, column 1: gives string, not true or false"),
        (
            "claim.consent &&\n  claim.seats.startsWith('1')",
            "line 2, column 15: startsWith() is called on a string, not on an int",
        ),
    ],
)
def test_a_clash_is_refused_naming_its_line_and_column(source: str, problem: str) -> None:
    [found] = check(source)
    assert found.startswith(problem)


@pytest.mark.parametrize(
    "source",
    [
        "claim.employees >= 50",  # double against int: CEL compares mixed numbers
        "claim.seats == 7.0",
        "claim.employees * 2.0 > 10.0",
        "claim.industry in ['saas', 'fintech']",
        "has(claim.industry) ? claim.industry != 'retail' : true",
        "claim.signed - timestamp('2026-01-01T00:00:00Z') > duration('24h')",
        "claim.signed.getFullYear() == 2026 && size(claim.industry) > 2",
        "[1, 2, 3].exists(n, n < claim.seats)",
        "type(claim.seats) == int",
        "lower(trim(claim.industry)).startsWith('sa')",
        "dyn(claim.industry) == 1 || true",
        "claim['employees'] > 100",
        "{'saas': true}[claim.industry]",
        "claim.foo.bar > 1",  # an undeclared attribute is dyn here (definitions refuses it)
    ],
)
def test_what_cel_can_run_is_accepted(source: str) -> None:
    assert check(source) == []


def test_syntax_the_parser_does_not_take_is_left_to_cel() -> None:
    for source in ("claim.?industry", "Msg{a: 1}", ".claim"):
        with pytest.raises(Unparsed):
            parse(source)
        assert check(source) == []


def test_a_definition_names_the_criterion_and_the_position() -> None:
    document = {
        **DEFINITION,
        "criteria": [
            {"name": "saas", "expression": "claim.industry == 'saas'"},
            {"name": "size", "expression": "claim.industry >= 50"},
        ],
    }
    with pytest.raises(DefinitionInvalid) as refused:
        parse_definition(document)
    [(field, reason)] = refused.value.problems
    assert field == "criteria[1].expression"
    assert reason.startswith("line 1, column 16: >= compares a string with an int")


def test_a_contract_condition_is_checked_against_what_it_sees() -> None:
    document = {
        "contract": "acme-2026",
        "account": "acme",
        "currency": "USD",
        "term": {"start": "2026-01-01"},
        "components": [
            {"id": "base", "type": "flat", "amount": "10.00", "when": "usage.calls * 2 > 10"},
            {"id": "late", "type": "flat", "amount": "1.00", "when": "period.start > 3"},
            {"id": "ok", "type": "flat", "amount": "1.00", "when": "usage.calls > 10"},
        ],
    }
    with pytest.raises(ContractInvalid) as refused:
        parse_contract(document)
    assert [(field, reason.split(":")[0]) for field, reason in refused.value.problems] == [
        ("components[0].when", "line 1, column 13"),
        ("components[1].when", "line 1, column 14"),
    ]


def _documents() -> list[tuple[str, dict[str, Any]]]:
    """Every whole outcome definition or contract in the docs, the README and examples/."""
    found = []
    pages = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    texts = [
        (page.name, block)
        for page in pages
        for block in re.findall(r"```(?:yaml|json)\n(.*?)```", page.read_text(), re.S)
    ]
    texts += [
        (path.name, path.read_text())
        for path in sorted((ROOT / "examples").rglob("*"))
        if path.suffix in (".yaml", ".yml", ".json")
    ]
    for name, text in texts:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue  # a fragment with `...` elisions, not a document
        if isinstance(data, dict) and ("dedupe_key" in data or "components" in data):
            found.append((name, data))
    return found


def test_every_documented_definition_and_contract_still_passes() -> None:
    documents = _documents()
    assert sum("dedupe_key" in d for _, d in documents) >= 1
    assert sum("components" in d for _, d in documents) >= 2
    for _name, data in documents:
        if "dedupe_key" in data:
            parse_definition(data)
        else:
            parse_contract(data)


# --- properties ---------------------------------------------------------------------------------

NUMBER_ATTRIBUTES = ("claim.employees", "claim.seats")


def _typed() -> dict[str, st.SearchStrategy[str]]:
    """Source strategies by the type of what they give, each well typed."""
    ints = st.recursive(
        st.sampled_from(["claim.seats", "3", "-2", "size(claim.industry)"]),
        lambda inner: (
            st.builds("({} + {})".format, inner, inner)
            | st.builds("({} * {})".format, inner, inner)
        ),
        max_leaves=4,
    )
    doubles = st.recursive(
        st.sampled_from(["claim.employees", "1.5", "double(claim.seats)"]),
        lambda inner: st.builds("({} - {})".format, inner, inner),
        max_leaves=4,
    )
    strings = st.recursive(
        st.sampled_from(["claim.industry", "'saas'", "string(claim.seats)"]),
        lambda inner: (
            st.builds("lower({})".format, inner) | st.builds("({} + {})".format, inner, inner)
        ),
        max_leaves=4,
    )
    numbers = ints | doubles
    comparisons = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    bools = st.recursive(
        st.sampled_from(["claim.consent", "true"])
        | st.builds("({} {} {})".format, numbers, comparisons, numbers)
        | st.builds("({} == {})".format, strings, strings)
        | st.builds("{}.startsWith({})".format, strings, strings)
        | st.builds("({} in [{}, 'x'])".format, strings, strings)
        | st.just("(claim.signed > timestamp('2026-01-01T00:00:00Z'))"),
        lambda inner: (
            st.builds("!{}".format, inner)
            | st.builds("({} && {})".format, inner, inner)
            | st.builds("({} || {})".format, inner, inner)
            | st.builds("({} ? {} : {})".format, inner, inner, inner)
        ),
        max_leaves=6,
    )
    return {"int": ints, "double": doubles, "string": strings, "bool": bools}


TYPED = _typed()


@given(source=TYPED["bool"])
def test_well_typed_expressions_are_accepted_and_run(source: str) -> None:
    assert check(source) == []
    assert isinstance(run(source), bool)  # small numbers: no overflow


CLASHES = [
    ("string", "<", "int"),
    ("string", ">=", "double"),
    ("int", "+", "double"),
    ("double", "*", "int"),
    ("string", "-", "string"),
    ("string", "+", "int"),
    ("int", "&&", "bool"),
]


@given(
    clash=st.sampled_from(CLASHES),
    data=st.data(),
    line_break=st.booleans(),
)
def test_a_deliberate_clash_is_refused_at_its_operator(
    clash: tuple[str, str, str], data: st.DataObject, line_break: bool
) -> None:
    left_type, op, right_type = clash
    left = data.draw(TYPED[left_type])
    right = data.draw(TYPED[right_type])
    before = "\n" if line_break else " "
    source = f"{left}{before}{op} {right}"
    at = len(left) + 1
    where = position(source, at)
    problems = check(source, gives=None)
    assert any(problem.startswith(f"{where}: {op} ") for problem in problems), problems
    if (
        op != "&&"
    ):  # `1 && false` is false in CEL (an error absorbed): refused as CEL's checker does
        with pytest.raises(TypeError):  # and the rest fails at run time on any claim
            run(source)


# Expressions over literals of any types, well typed or not: what CEL itself does with them is
# the judge of every refusal. No `&&`, `||` or `? :`: CEL skips the side it does not need, and a
# clash there is refused (as CEL's own checker does) though this one run would not meet it.
LITERALS = st.sampled_from(
    [
        "1",
        "-2",
        "3u",
        "1.5",
        "'a'",
        "'bc'",
        "b'x'",
        "true",
        "false",
        "null",
        "[1, 2]",
        "['a']",
        "{'a': 1}",
        "duration('1h')",
        "timestamp('2026-01-01T00:00:00Z')",
        "claim.industry",
        "claim.employees",
        "claim.seats",
        "claim.consent",
        "claim.signed",
        "lower(claim.industry)",
        "claim.signed.getFullYear()",
    ]
)
OPERATORS = st.sampled_from(["+", "-", "*", "/", "%", "<", "<=", ">", ">=", "==", "!=", "in"])
ANY_EXPRESSION = st.recursive(
    LITERALS,
    lambda inner: (
        st.builds("({} {} {})".format, inner, OPERATORS, inner)
        | st.builds("!{}".format, inner)
        | st.builds("-{}".format, inner)
        | st.builds("size({})".format, inner)
        | st.builds("{}.startsWith({})".format, inner, inner)
        | st.builds("[{}, {}][0]".format, inner, inner)
    ),
    max_leaves=5,
)
# Refusals for what CEL runs without an error: comparisons that are always false (or true).
NOT_AN_ERROR = ("always", "never there", "keys of a map")


@given(source=ANY_EXPRESSION)
def test_every_refusal_is_of_something_cel_cannot_run_or_that_is_always_false(
    source: str,
) -> None:
    problems = type_problems(source, VARIABLES, None, OURS)
    if not problems:
        return
    try:
        run(source)
    except (TypeError, RuntimeError):
        return  # refused, and CEL fails on it too
    except (ValueError, OverflowError, ZeroDivisionError):
        return  # not a matter of types, and failing anyway
    assert all(any(kind in p for kind in NOT_AN_ERROR) for p in problems), (source, problems)


@given(text=st.text(alphabet="ab1.'\"()[]{},:?!<>=&|+-*/% \nu", max_size=40))
def test_any_text_is_parsed_or_left_to_cel_never_a_crash(text: str) -> None:
    assert isinstance(type_problems(text, VARIABLES, BOOL, OURS), list)


def test_a_deeply_nested_expression_is_left_to_cel() -> None:
    assert type_problems("(" * 3_000 + "'a'" + ")" * 3_000 + " > 1", VARIABLES, BOOL, OURS) == []
