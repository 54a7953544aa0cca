"""Tests for outcomes/verification.py: attribute typing, every reason a verdict gives, the seed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.outcomes.definitions import CompiledDefinition, compile_definition, parse_definition
from valueproof.outcomes.knownset import hasher, known_hashes, new_secret
from valueproof.outcomes.verification import (
    CLOCK_SKEW,
    REASON_CODES,
    Claim,
    Reason,
    Verdict,
    check_attributes,
    criteria_check,
    verify,
)

CRITERIA = {
    "industry": 'claim.industry in ["saas", "fintech"]',
    "size": "claim.employees >= 50",
    "region": 'claim.region != "antarctica"',
    "consent": "claim.consent",
}
DEFINITION = compile_definition(
    parse_definition(
        {
            "contract": "acme-2026",
            "outcome": "qualified_lead",
            "attributes": {
                "email": {"type": "string", "required": True, "personal": True},
                "company": {"type": "string", "required": True},
                "industry": {"type": "string", "required": True},
                "employees": {"type": "integer", "required": True},
                "region": {"type": "string"},
                "score": {"type": "number"},
                "consent": {"type": "boolean", "required": True},
                "contacted_at": {"type": "timestamp"},
            },
            "criteria": [{"name": name, "expression": e} for name, e in CRITERIA.items()],
            "dedupe_key": "lower(claim.email)",
            "known_key": "lower(claim.email)",
            "verification_window_days": 30,
            "dispute_window_days": 14,
        }
    )
)
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SECRET = bytes(32)
GOOD = {
    "email": "ann@example.com",
    "company": "Acme",
    "industry": "saas",
    "employees": 120,
    "region": "eu",
    "consent": True,
}


def claim(
    number: int = 1,
    occurred_at: datetime = NOW - timedelta(days=2),
    submitted_at: datetime = NOW,
    **attributes: Any,
) -> Claim:
    values = {**GOOD, "email": f"lead{number}@example.com", **attributes}
    values = {name: value for name, value in values.items() if value is not None}
    return Claim(f"c{number}", "acme", "qualified_lead", occurred_at, values, submitted_at)


def run(
    subject: Claim,
    known: Mapping[str, object] | set[str] = frozenset(),
    earlier: Callable[[str], str | None] = lambda key: None,
    compiled: CompiledDefinition = DEFINITION,
) -> Verdict:
    return verify(
        compiled,
        subject,
        is_known=known.__contains__,
        earlier=earlier,
        known_hash_of=hasher(SECRET),
    )


def codes(verdict: Verdict) -> list[tuple[str, str]]:
    return [(reason.code, reason.field) for reason in verdict.reasons]


# --- attributes ---------------------------------------------------------------------------------


def test_check_attributes_types_and_normalizes() -> None:
    typed, reasons = check_attributes(
        DEFINITION, {**GOOD, "score": 1, "contacted_at": "2026-02-01T10:00:00+02:00"}
    )
    assert reasons == []
    assert typed["score"] == 1.0 and isinstance(typed["score"], float)
    assert typed["contacted_at"] == datetime(2026, 2, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "value", "detail"),
    [
        ("employees", 50.0, "must be an integer, not a number"),
        ("employees", True, "must be an integer, not a boolean"),
        ("employees", "50", "must be an integer, not a string"),
        ("employees", 2**63, "64-bit"),
        ("score", False, "must be a number, not a boolean"),
        ("score", float("nan"), "finite"),
        ("score", 10**400, "finite"),
        ("consent", 1, "must be true or false, not a number"),
        ("company", 7, "must be a string, not a number"),
        ("company", "x" * 10_001, "at most"),
        ("contacted_at", "2026-02-01", "RFC 3339"),
        ("contacted_at", datetime(2026, 2, 1), "aware"),
        ("region", ["eu"], "must be a string, not an array"),
    ],
)
def test_check_attributes_is_strict(name: str, value: Any, detail: str) -> None:
    typed, reasons = check_attributes(DEFINITION, {**GOOD, name: value})
    assert name not in typed
    assert [(r.code, r.field) for r in reasons] == [("invalid_attribute", f"attributes.{name}")]
    assert detail in reasons[0].detail


def test_required_missing_and_undeclared_attributes_are_reasons() -> None:
    attributes = {**GOOD, "zeta": 1, "alpha": 2, "region": None}
    del attributes["company"]
    typed, reasons = check_attributes(DEFINITION, attributes)
    assert "region" not in typed  # null is "not given"
    assert [(r.field, r.detail) for r in reasons] == [
        ("attributes.company", "is required"),
        ("attributes.alpha", "is not an attribute of 'qualified_lead' outcomes"),
        ("attributes.zeta", "is not an attribute of 'qualified_lead' outcomes"),
    ]


# --- verdicts -----------------------------------------------------------------------------------


def test_a_claim_that_passes_every_check_is_accepted() -> None:
    verdict = run(claim())
    assert verdict == Verdict(
        "c1", True, (), "lead1@example.com", hasher(SECRET)("lead1@example.com")
    )


def test_every_reason_that_applies_is_given() -> None:
    subject = claim(
        7, industry="retail", employees=20, occurred_at=NOW - timedelta(days=40), consent=False
    )
    known = known_hashes(SECRET, ["LEAD7@example.com"])
    verdict = run(subject, known, earlier=lambda key: "c3")
    assert not verdict.accepted
    assert codes(verdict) == [
        ("criterion_failed", "criteria.industry"),
        ("criterion_failed", "criteria.size"),
        ("criterion_failed", "criteria.consent"),
        ("already_known", "known_key"),
        ("duplicate", "dedupe_key"),
        ("outside_window", "occurred_at"),
    ]
    details = [reason.detail for reason in verdict.reasons]
    assert (
        details[0]
        == 'industry: claim.industry in ["saas", "fintech"] is false (industry = "retail")'
    )
    assert details[1] == "size: claim.employees >= 50 is false (employees = 20)"
    assert "c3" in details[4]
    assert "more than 30 days" in details[5]


def test_personal_attributes_are_not_shown_in_reasons() -> None:
    data = DEFINITION.definition.model_dump()
    data["criteria"] = [{"name": "corporate", "expression": '!claim.email.endsWith("@gmail.com")'}]
    compiled = compile_definition(parse_definition(data))
    verdict = run(claim(email="someone@gmail.com"), compiled=compiled)
    (reason,) = verdict.reasons
    assert reason.detail.endswith("is false (email = (personal))")
    assert "someone" not in reason.detail


def test_a_criterion_that_cannot_be_evaluated_fails_with_the_error() -> None:
    verdict = run(claim(region=None))
    assert codes(verdict) == [("criterion_failed", "criteria.region")]
    assert verdict.reasons[0].detail == (
        'region: claim.region != "antarctica" failed: claim.region is not set (region = not set)'
    )


def test_a_division_by_zero_in_a_criterion_is_a_reason_not_a_crash() -> None:
    data = DEFINITION.definition.model_dump()
    data["criteria"] = [{"name": "per_seat", "expression": "100 / (claim.employees - 50) > 1"}]
    compiled = compile_definition(parse_definition(data))
    verdict = run(claim(employees=50), compiled=compiled)
    assert codes(verdict) == [("criterion_failed", "criteria.per_seat")]
    assert "failed" in verdict.reasons[0].detail
    assert codes(run(claim(employees=60), compiled=compiled)) == []


def test_criteria_reading_an_invalid_attribute_are_not_run() -> None:
    verdict = run(claim(employees="many", industry="retail"))
    assert codes(verdict) == [
        ("invalid_attribute", "attributes.employees"),
        ("criterion_failed", "criteria.industry"),
    ]


def test_a_key_that_cannot_be_computed_is_a_reason() -> None:
    data = DEFINITION.definition.model_dump()
    data["dedupe_key"] = "email_domain(claim.email)"
    compiled = compile_definition(parse_definition(data))
    verdict = run(claim(email="not-an-email"), compiled=compiled)
    assert verdict.dedupe_key is None
    assert codes(verdict) == [("invalid_attribute", "dedupe_key")]
    assert "empty string" in verdict.reasons[0].detail


@pytest.mark.parametrize(
    ("occurred", "submitted", "inside"),
    [
        (NOW, NOW, True),
        (NOW - timedelta(days=30), NOW, True),  # the window's last moment
        (NOW - timedelta(days=30, seconds=1), NOW, False),
        (NOW + CLOCK_SKEW, NOW, True),  # clocks disagree a little
        (NOW + CLOCK_SKEW + timedelta(seconds=1), NOW, False),  # in the future
    ],
)
def test_the_window(occurred: datetime, submitted: datetime, inside: bool) -> None:
    verdict = run(claim(occurred_at=occurred, submitted_at=submitted))
    assert verdict.accepted is inside
    if not inside:
        assert codes(verdict) == [("outside_window", "occurred_at")]


def test_a_claim_is_not_a_duplicate_of_itself() -> None:
    assert run(claim(4), earlier=lambda key: "c4").accepted
    assert not run(claim(4), earlier=lambda key: "c1").accepted


def test_without_a_known_set_nothing_is_known() -> None:
    verdict = verify(
        DEFINITION, claim(), is_known=lambda h: True, earlier=lambda k: None, known_hash_of=None
    )
    assert verdict.accepted and verdict.known_hash is None


def test_claims_are_checked_against_their_own_definition() -> None:
    other = Claim("c1", "acme", "ticket_resolved", NOW, GOOD, NOW)
    with pytest.raises(InvalidInput, match="outcome"):
        run(other)
    with pytest.raises(InvalidInput, match="aware"):
        Claim("c1", "acme", "qualified_lead", datetime(2026, 1, 1), GOOD, NOW)


def test_criteria_check_is_the_criteria_part_of_verify() -> None:
    typed, _ = check_attributes(DEFINITION, {**GOOD, "employees": 3, "consent": False})
    assert [r.field for r in criteria_check(DEFINITION, typed)] == [
        "criteria.size",
        "criteria.consent",
    ]
    assert criteria_check(DEFINITION, check_attributes(DEFINITION, GOOD)[0]) == []


# --- the seed's example -------------------------------------------------------------------------


def test_the_seed_100_leads_20_known_20_off_profile_60_accepted() -> None:
    """Marketing software claims 100 leads; the customer already knew 20 and 20 do not match the
    agreed profile: 60 are billable, and each refusal says why."""
    secret = new_secret()
    customer_list = [f"Lead{n}@Example.com" for n in range(0, 100, 5)]  # 20 it already had
    uploaded = known_hashes(secret, customer_list)
    claims = []
    for n in range(100):
        off_profile = n % 5 == 1  # 20 leads outside the profile, none of them known
        attributes = {"industry": "retail"} if off_profile and n % 2 else {}
        if off_profile and not n % 2:
            attributes = {"employees": 12}
        claims.append(claim(n, **attributes))
    verdicts = [
        verify(
            DEFINITION,
            c,
            is_known=uploaded.__contains__,
            earlier=lambda key: None,
            known_hash_of=hasher(secret),
        )
        for c in claims
    ]
    accepted = [v for v in verdicts if v.accepted]
    known = [v for v in verdicts if codes(v) == [("already_known", "known_key")]]
    off = [v for v in verdicts if v.reasons and v.reasons[0].code == "criterion_failed"]
    assert (len(accepted), len(known), len(off)) == (60, 20, 20)
    assert {v.claim_id for v in known} == {f"c{n}" for n in range(0, 100, 5)}
    assert {r.field for v in off for r in v.reasons} == {"criteria.industry", "criteria.size"}
    assert all(len(v.reasons) == 1 for v in off)


# --- properties ---------------------------------------------------------------------------------

FAILING_VALUES = {
    "industry": {"industry": "retail"},
    "size": {"employees": 49},
    "region": {"region": "antarctica"},
    "consent": {"consent": False},
}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Claim, set[str], bool, bool, bool]:
    failing = draw(st.sets(st.sampled_from(sorted(CRITERIA))))
    attributes: dict[str, Any] = {
        "industry": draw(st.sampled_from(["saas", "fintech"])),
        "employees": draw(st.integers(50, 10**9)),
        "region": draw(st.sampled_from(["eu", "us", "apac"])),
        "score": draw(st.floats(0, 1)),
        "company": draw(st.text(max_size=10)),
    }
    for name in failing:
        attributes |= FAILING_VALUES[name]
    if "size" in failing:
        attributes["employees"] = draw(st.integers(-(10**9), 49))
    number = draw(st.integers(0, 10**6))
    known, duplicate, late = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    days = draw(st.integers(31, 400) if late else st.integers(0, 30))
    subject = claim(number, occurred_at=NOW - timedelta(days=days), **attributes)
    return subject, failing, known, duplicate, late


@given(scenarios())
def test_every_failing_check_adds_exactly_its_reason(
    scenario: tuple[Claim, set[str], bool, bool, bool],
) -> None:
    subject, failing, known, duplicate, late = scenario
    email = subject.attributes["email"]
    verdict = run(
        subject,
        known_hashes(SECRET, [email] if known else []),
        earlier=lambda key: "c-first" if duplicate else None,
    )
    expected = [("criterion_failed", f"criteria.{name}") for name in CRITERIA if name in failing]
    expected += [("already_known", "known_key")] * known
    expected += [("duplicate", "dedupe_key")] * duplicate
    expected += [("outside_window", "occurred_at")] * late
    assert codes(verdict) == expected
    assert len(verdict.reasons) == len(failing) + known + duplicate + late
    assert verdict.accepted is (not expected)
    assert {reason.code for reason in verdict.reasons} <= set(REASON_CODES)


@given(scenarios())
def test_verify_is_deterministic(scenario: tuple[Claim, set[str], bool, bool, bool]) -> None:
    subject, *_ = scenario
    known = known_hashes(SECRET, [subject.attributes["email"]])
    assert run(subject, known) == run(subject, known)


@given(st.integers(50, 2**62), st.sampled_from(["saas", "fintech"]), st.integers(0, 30 * 86_400))
def test_a_claim_meeting_every_check_is_accepted(employees: int, industry: str, age: int) -> None:
    subject = claim(2, NOW - timedelta(seconds=age), employees=employees, industry=industry)
    verdict = run(subject, known_hashes(SECRET, ["someone.else@example.com"]))
    assert verdict.accepted and verdict.reasons == ()


def test_reasons_are_plain_records() -> None:
    reason = Reason("duplicate", "dedupe_key", "x")
    assert reason == Reason("duplicate", "dedupe_key", "x")
    with pytest.raises(AttributeError):
        reason.code = "other"  # type: ignore[misc]


def test_offsets_are_honoured_in_windows() -> None:
    plus_two = timezone(timedelta(hours=2))
    subject = claim(occurred_at=datetime(2026, 3, 1, 14, 4, tzinfo=plus_two), submitted_at=NOW)
    assert run(subject).accepted  # 12:04 UTC is within the clock skew of 12:00 UTC


def test_a_missing_key_of_a_map_literal_is_named_as_such() -> None:
    data = DEFINITION.definition.model_dump()
    data["criteria"] = [{"name": "tier", "expression": '{"saas": true}[claim.industry]'}]
    compiled = compile_definition(parse_definition(data))
    (reason,) = run(claim(industry="retail"), compiled=compiled).reasons
    assert reason.detail == (
        'tier: {"saas": true}[claim.industry] failed: no such key \'retail\' (industry = "retail")'
    )
