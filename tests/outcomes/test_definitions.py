"""Tests for outcomes/definitions.py: reading, refusing and compiling outcome definitions."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from typing import Any

import cel
import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.outcomes.definitions import (
    FLAT_PREFIX,
    FUNCTIONS,
    CompiledDefinition,
    compile_definition,
    definition_schema,
    parse_definition,
    read_definition,
)
from valueproof.outcomes.errors import DefinitionInvalid
from valueproof.outcomes.knownset import normalize

EXAMPLE_YAML = """
contract: acme-2026
outcome: qualified_lead
description: A lead that matches the agreed profile.
attributes:
  email:     {type: string, required: true, personal: true}
  company:   {type: string, required: true}
  industry:  {type: string, required: true}
  employees: {type: integer, required: true}
  region:    {type: string}
  score:     {type: number}
  signed_up: {type: timestamp}
  consent:   {type: boolean}
criteria:
  - {name: industry, expression: 'claim.industry in ["saas", "fintech"]', description: Target}
  - {name: size, expression: 'claim.employees >= 50'}
dedupe_key: 'email_domain(claim.email)'
known_key: 'lower(claim.email)'
verification_window_days: 30
dispute_window_days: 14
"""


def document(**changes: Any) -> dict[str, Any]:
    """The example definition as data, with top-level fields changed."""
    data = read_definition(EXAMPLE_YAML).model_dump(mode="json")
    data.update(copy.deepcopy(changes))
    return data


def with_criteria(*expressions: str) -> dict[str, Any]:
    return document(
        criteria=[{"name": f"c{i}", "expression": e} for i, e in enumerate(expressions)]
    )


def problems_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(data)
    assert isinstance(caught.value, InvalidInput)
    return list(caught.value.problems)


def test_the_example_reads_from_yaml_and_json_and_compiles() -> None:
    definition = read_definition(EXAMPLE_YAML)
    assert read_definition(definition.model_dump_json()) == definition
    compiled = compile_definition(definition)
    assert [c.name for c in compiled.criteria] == ["industry", "size"]
    assert [c.field for c in compiled.criteria] == [
        "criteria[0].expression",
        "criteria[1].expression",
    ]
    assert compiled.criteria[1].reads == ("employees",)
    assert compiled.known_key is not None and compiled.known_key.reads == ("email",)
    claim = {"email": " Ann@Example.COM", "industry": "saas", "employees": 60}
    assert compiled.run(compiled.all_criteria, claim) is True
    assert compiled.run(compiled.all_criteria, {**claim, "employees": 20}) is False
    assert compiled.run(compiled.dedupe_key.program, claim) == "example.com"


def test_claim_fields_compile_to_plain_variables() -> None:
    compiled = compile_definition(read_definition(EXAMPLE_YAML))
    size = compiled.criteria[1]
    assert size.compiled_source == f"{FLAT_PREFIX}employees >= 50"
    assert size.program.variables() == [f"{FLAT_PREFIX}employees"]


@pytest.mark.parametrize(
    ("expression", "claim", "expected"),
    [
        # has() needs the claim map: the expression runs in its nested form
        ('has(claim.region) ? claim.region != "antarctica" : true', {}, True),
        (
            'has(claim.region) ? claim.region != "antarctica" : true',
            {"region": "antarctica"},
            False,
        ),
        # text inside string literals is never rewritten
        ('claim.company != "claim.company" && claim.company != r"\\claim.company"', {}, True),
        ("'a\\' claim.company' == claim.company", {"company": "a' claim.company"}, True),
        ("r'\\' + claim.company == '\\\\x'", {"company": "x"}, True),
        ("claim.company == 'claim.company'", {"company": "claim.company"}, True),
        ('claim.company == """a "claim.x" b"""', {"company": 'a "claim.x" b'}, True),
        # a comment may mention anything; it ends at the line's end
        ("claim.employees >= 50 // claim.nothing here\n && true", {"employees": 50}, True),
        # comprehension variables are allowed, and shadow nothing of the claim
        ('["saas", "fintech"].exists(i, claim.industry == i)', {"industry": "fintech"}, True),
        ('["saas"].exists(industry, claim.industry == industry)', {"industry": "saas"}, True),
        ("claim.signed_up > timestamp('2026-01-01T00:00:00Z')", {}, True),
        ("type(claim.employees) == int", {"employees": 3}, True),
        ('claim["industry"] == "saas"', {"industry": "saas"}, True),
        # a lookup in a map the expression builds is data, not an undeclared attribute
        ('{"saas": true}[claim.industry]', {"industry": "saas"}, True),
    ],
)
def test_expressions_keep_their_cel_meaning(
    expression: str, claim: dict[str, Any], expected: bool
) -> None:
    compiled = compile_definition(parse_definition(with_criteria(expression)))
    sample = {
        "company": "x",
        "industry": "saas",
        "employees": 1,
        "signed_up": datetime(2026, 2, 1, tzinfo=UTC),
        **claim,
    }
    assert compiled.run(compiled.criteria[0].program, sample) is expected
    assert compiled.run(compiled.all_criteria, sample) is expected


ATTRIBUTES = st.fixed_dictionaries(
    {
        "industry": st.sampled_from(["saas", "fintech", "retail", "SaaS "]),
        "employees": st.integers(-(2**40), 2**40),
        "email": st.emails() | st.text(max_size=20),
    },
    optional={"region": st.sampled_from(["eu", "us", "antarctica"]), "score": st.floats(0, 1)},
)
PROFILE = (
    'normalize(claim.industry) in ["saas", "fintech"] && claim.employees >= 50'
    ' && claim.score > 0.5 && claim.region != "antarctica"'
    ' || email_domain(claim.email) == "example.com"'
)
PROFILE_DEFINITION = compile_definition(
    parse_definition(
        with_criteria(
            "claim.employees >= 50 && claim.region != 'antarctica'",
            PROFILE,
            "has(claim.score) ? claim.score > 0.5 : claim.employees > 100",
        )
    )
)


@given(ATTRIBUTES)
def test_the_flat_form_agrees_with_cel_on_the_claim_map(attributes: dict[str, Any]) -> None:
    # The plain-variable rewrite is an optimization: it must give what CEL gives on `claim`.
    compiled = PROFILE_DEFINITION
    flat = [FLAT_PREFIX in criterion.compiled_source for criterion in compiled.criteria]
    assert flat == [True, True, False]
    context = cel.Context(variables={"claim": attributes}, functions=FUNCTIONS)
    for criterion in compiled.criteria:
        try:
            expected: Any = cel.compile(criterion.source).execute(context)
        except (KeyError, RuntimeError):
            expected = "error"
        try:
            got: Any = compiled.run(criterion.program, attributes)
        except (KeyError, RuntimeError):
            got = "error"
        assert got == expected


@pytest.mark.parametrize(
    ("function", "argument", "expected"),
    [
        ("lower", "AbC", "abc"),
        ("trim", "  a b \t", "a b"),
        ("email_domain", "Ann@Example.COM ", "example.com"),
        ("email_domain", '"a@b"@Corp.io', "corp.io"),  # the part after the last @
        ("email_domain", "no-at-sign", ""),
        ("normalize", " Straße  Corp ", "strasse corp"),
    ],
)
def test_our_cel_functions(function: str, argument: str, expected: str) -> None:
    assert (
        cel.compile(f"{function}(s)").execute(cel.Context({"s": argument}, FUNCTIONS)) == expected
    )


@given(st.text(max_size=30))
def test_cel_normalize_is_the_known_set_normalize(value: str) -> None:
    assert FUNCTIONS["normalize"](value) == normalize(value)


def test_every_problem_is_listed_with_its_field() -> None:
    data = document(
        criteria=[
            {"name": "a", "expression": "claim.employees >"},
            {"name": "a", "expression": "claim.nope == 1"},
            {"name": "b", "expression": "claim.industry.lowerAscii() == 'saas'"},
            {"name": "c", "expression": "other > 1"},
            {"name": "d", "expression": "claim['zz'] == 1"},
            {"name": "e", "expression": "claim.employees"},
            {"name": "f", "expression": "foo(claim.industry)"},
        ],
        dedupe_key="claim.region",
        known_key="claim.employees",
    )
    problems = problems_of(data)
    fields = [field for field, _ in problems]
    assert fields == [
        "criteria[1].name",
        "criteria[0].expression",
        "criteria[1].expression",
        "criteria[2].expression",
        "criteria[3].expression",
        "criteria[4].expression",
        "criteria[5].expression",
        "criteria[6].expression",
        "dedupe_key",
        "known_key",
    ]
    reasons = dict(zip(fields[1:], [reason for _, reason in problems[1:]], strict=True))
    assert problems[0][1] == "'a' is also criteria[0]"
    assert reasons["criteria[0].expression"].startswith("invalid CEL")
    assert "claim.nope" in reasons["criteria[1].expression"]
    assert "'lowerAscii'" in reasons["criteria[2].expression"]
    assert "'other'" in reasons["criteria[3].expression"]
    assert "claim.zz" in reasons["criteria[4].expression"]
    assert "true or false" in reasons["criteria[5].expression"]
    assert "'foo'" in reasons["criteria[6].expression"]
    assert "optional" in reasons["dedupe_key"]
    assert "a string" in reasons["known_key"]


def test_an_unknown_function_is_refused_even_where_a_sample_would_not_reach_it() -> None:
    (problem,) = problems_of(with_criteria("claim.employees >= 0 || upper(claim.company) == 'X'"))
    assert problem[0] == "criteria[0].expression" and "'upper'" in problem[1]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contract": "not a key"}, "contract"),
        ({"verification_window_days": 0}, "verification_window_days"),
        ({"attributes": {}}, "attributes"),
        ({"attributes": {"email": {"type": "text"}}}, "attributes.email.type"),
        ({"attributes": {"email": {"type": "string", "secret": True}}}, "attributes.email.secret"),
        ({"attributes": {"e-mail": {"type": "string"}}}, "attributes.e-mail"),
        ({"attributes": {"in": {"type": "string"}}}, "attributes.in"),
        ({"criteria": [{"name": "x"}]}, "criteria[0].expression"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_document_errors_name_the_field(changes: dict[str, Any], field: str) -> None:
    assert field in [path for path, _ in problems_of(document(**changes))]


def test_required_fields_and_documents() -> None:
    data = document()
    del data["dedupe_key"]
    assert ("dedupe_key", "is missing") in problems_of(data)
    assert problems_of([1, 2])[0][0] == "(document)"
    with pytest.raises(DefinitionInvalid, match="not valid YAML"):
        read_definition("contract: [unclosed")


def test_the_json_schema_describes_the_document() -> None:
    schema = definition_schema()
    assert schema["additionalProperties"] is False
    assert {"contract", "outcome", "attributes", "dedupe_key"} <= set(schema["required"])
    assert "timestamp" in str(schema["$defs"]["AttributeType"])


def test_a_compiled_definition_is_safe_to_share_between_threads() -> None:
    compiled: CompiledDefinition = compile_definition(read_definition(EXAMPLE_YAML))
    wrong: list[int] = []

    def work(offset: int) -> None:
        for employees in range(offset, offset + 2_000):
            claim = {"industry": "saas", "employees": employees}
            if compiled.run(compiled.all_criteria, claim) is not (employees >= 50):
                wrong.append(employees)

    threads = [threading.Thread(target=work, args=(start,)) for start in (0, 25, 40, 49)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.parametrize(
    ("expression", "flat"),
    [
        ("claim.company != 'claim.company'", "claim__company != 'claim.company'"),
        ("r'\\' + claim.company == 'x'", "r'\\' + claim__company == 'x'"),
        ("claim.employees > 1 // claim.employees\n", "claim__employees > 1 // claim.employees\n"),
    ],
)
def test_only_field_reads_outside_literals_and_comments_are_rewritten(
    expression: str, flat: str
) -> None:
    compiled = compile_definition(parse_definition(with_criteria(expression)))
    assert compiled.criteria[0].compiled_source == flat


def test_reads_are_found_in_both_spellings() -> None:
    data = with_criteria('claim["industry"] == "saas" && has(claim.region) && claim.size() > 0')
    (criterion,) = compile_definition(parse_definition(data)).criteria
    assert criterion.reads == ("industry", "region")
