"""Every InvalidInput carries its problems, so the API and the CLI can list them the same way
for a single bad field and for a document with many."""

from __future__ import annotations

import pytest

from valueproof.contracts.errors import ContractInvalid
from valueproof.errors import DocumentInvalid, InvalidInput, PayloadTooLarge, ValueproofError
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


def _our_errors() -> list[type[ValueproofError]]:
    """Every ValueproofError class defined in valueproof, by importing each module."""
    import importlib
    import inspect
    import pkgutil

    import valueproof

    found: dict[type[ValueproofError], None] = {}
    for module in pkgutil.walk_packages(valueproof.__path__, "valueproof."):
        if ".migrations" in module.name:
            continue  # Alembic's env.py runs migrations when imported
        for _, value in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(value, ValueproofError) and value.__module__.startswith("valueproof."):
                found[value] = None
    return list(found)


def test_every_error_lives_in_its_packages_errors_module_and_follows_the_naming_rule() -> None:
    errors = _our_errors()
    assert ContractInvalid in errors and DefinitionInvalid in errors
    misplaced = [e.__qualname__ for e in errors if e.__module__.rpartition(".")[2] != "errors"]
    assert misplaced == []
    # valueproof/errors.py: an InvalidInput is named for what went wrong, never "...Error".
    invalid_inputs = [e.__qualname__ for e in errors if issubclass(e, InvalidInput)]
    assert [name for name in invalid_inputs if name.endswith("Error")] == []


def test_a_field_left_out_is_called_missing_and_validators_lose_pydantics_prefix() -> None:
    from pydantic import BaseModel, ValidationError, field_validator

    from valueproof.errors import validation_reason

    class Lead(BaseModel):
        email: str
        score: int

        @field_validator("score")
        @classmethod
        def _positive(cls, value: int) -> int:
            if value < 0:
                raise ValueError("must be at least 0")
            return value

    with pytest.raises(ValidationError) as missing:
        Lead.model_validate({"score": 1})
    assert [validation_reason(e) for e in missing.value.errors()] == ["is missing"]
    with pytest.raises(ValidationError) as negative:
        Lead.model_validate({"email": "a@b.c", "score": -1})
    assert [validation_reason(e) for e in negative.value.errors()] == ["must be at least 0"]
