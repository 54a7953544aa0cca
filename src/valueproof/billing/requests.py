"""What the shells send to billing's writes, read and validated whole: a void, a payment, a
credit note, settings and profiles. Every problem names its field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valueproof.billing.credit_notes import CreditLine, CreditRequest
from valueproof.billing.errors import BillingRequestInvalid
from valueproof.errors import field_path, validation_reason

__all__ = ["CreditBody", "MarkBody", "VoidBody", "parse"]

Model = TypeVar("Model", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoidBody(_Strict):
    reason: str = Field(min_length=1, max_length=2000)
    regenerate: bool = True


class MarkBody(_Strict):
    status: Literal["paid", "uncollectible"]
    reason: str = Field(default="", max_length=2000)
    reference: str | None = Field(default=None, max_length=200)


class CreditLineBody(_Strict):
    line: int = Field(ge=0)
    amount: Decimal | None = Field(default=None, description="null: all that is left")


class CreditBody(_Strict):
    reason: str = Field(min_length=1, max_length=2000)
    lines: list[CreditLineBody] = Field(default_factory=list, description="empty: every line")
    disposition: Literal["refund", "balance"] = "refund"

    def request(self) -> CreditRequest:
        lines = tuple(CreditLine(item.line, item.amount) for item in self.lines)
        return CreditRequest(self.reason, lines, self.disposition)


def parse(model: type[Model], document: Any) -> Model:
    """`document` as `model`; BillingRequestInvalid listing every (field, reason) otherwise."""
    try:
        return model.model_validate(document)
    except ValidationError as error:
        problems = [
            (field_path(e["loc"]) or "(document)", validation_reason(e)) for e in error.errors()
        ]
        raise BillingRequestInvalid(problems) from None
