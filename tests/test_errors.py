"""Every InvalidInput carries its problems, so the API and the CLI can list them the same way
for a single bad field and for a document with many."""

from __future__ import annotations

import pytest

from valueproof.contracts.errors import ContractInvalid
from valueproof.errors import DocumentInvalid, InvalidInput, PayloadTooLarge
from valueproof.outcomes.errors import DefinitionInvalid
from valueproof.success.errors import LabelsInvalid, ScorecardInvalid, SegmentsInvalid


def test_a_single_bad_field_is_one_problem() -> None:
    error = InvalidInput("events[3].value", "must not be negative")
    assert error.problems == (("events[3].value", "must not be negative"),)
    assert error.detail == "events[3].value: must not be negative"
    assert PayloadTooLarge("events", "more than 10,000").problems == (
        ("events", "more than 10,000"),
    )


@pytest.mark.parametrize(
    "kind", [ContractInvalid, DefinitionInvalid, LabelsInvalid, ScorecardInvalid, SegmentsInvalid]
)
def test_a_document_lists_every_problem_first_one_as_its_field(kind: type[DocumentInvalid]) -> None:
    error = kind([("a.b", "is missing"), ("c[2]", "must be a number")])
    assert isinstance(error, DocumentInvalid) and isinstance(error, InvalidInput)
    assert (error.field, error.reason) == ("a.b", "is missing")
    assert error.problems == (("a.b", "is missing"), ("c[2]", "must be a number"))
    assert error.detail == "a.b: is missing; c[2]: must be a number"
    one = kind([("a.b", "is missing")])
    assert one.detail == "a.b: is missing" and one.problems == (("a.b", "is missing"),)


def test_unreadable_and_uncanonical_values_are_ours_and_still_value_errors() -> None:
    from valueproof.documents import load_document
    from valueproof.errors import DocumentUnreadable, ValueproofError
    from valueproof.ledger.canonical import canonical_json
    from valueproof.ledger.errors import CanonicalizationError

    with pytest.raises(DocumentUnreadable) as unreadable:
        load_document("a: [1, 2\nb: }")
    assert isinstance(unreadable.value, ValueproofError) and isinstance(
        unreadable.value, ValueError
    )
    assert unreadable.value.status == 422 and "not valid YAML or JSON" in unreadable.value.detail
    with pytest.raises(CanonicalizationError) as uncanonical:
        canonical_json({"n": 2**60})
    assert isinstance(uncanonical.value, ValueproofError) and uncanonical.value.status == 422
