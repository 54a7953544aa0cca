"""A tenant's billing settings and an account's billing profile: documents with their defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from valueproof.billing.invoice import Customer
from valueproof.billing.taxes import TaxProfile, TaxRate

__all__ = ["BillingProfile", "BillingSettings", "Vendor", "format_number"]

_NUMBER_PREFIX = r"^[A-Za-z0-9][A-Za-z0-9\-_/.]*(\{year\}[A-Za-z0-9\-_/.]*)?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Vendor(_Strict):
    """Who bills: printed at the top of every invoice and credit note."""

    name: str = Field(default="", max_length=300)
    address: str = Field(default="", max_length=2000, description="Several lines allowed.")
    email: str | None = Field(default=None, max_length=300)
    logo: str | None = Field(
        default=None,
        max_length=2_000_000,
        pattern=r"^data:image/(png|svg\+xml|jpeg);base64,[A-Za-z0-9+/=]+$",
        description="A data: URI of a PNG, JPEG or SVG image.",
    )


class BillingSettings(_Strict):
    """How a tenant closes periods and numbers its invoices."""

    grace_hours: int = Field(
        default=72,
        ge=0,
        le=24 * 90,
        description="Hours after a period ends before it closes (late usage); 0: at once.",
    )
    auto_finalize: bool = Field(
        default=True,
        description="Finalize invoices when periods close; false holds drafts for approval.",
    )
    invoice_prefix: str = Field(
        default="INV-{year}-",
        max_length=40,
        pattern=_NUMBER_PREFIX,
        description="Invoice numbers are this prefix ({year}: the year of finalization) and the "
        "tenant's next gapless number.",
    )
    credit_note_prefix: str = Field(default="CN-{year}-", max_length=40, pattern=_NUMBER_PREFIX)
    number_digits: int = Field(default=6, ge=1, le=12)
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    corrections: Literal["next_invoice", "credit_note"] = Field(
        default="next_invoice",
        description="Where a finalized period's reductions go (voided or amended events): a "
        "line on the next invoice, or a credit note against the finalized invoice. Late usage "
        "that adds to a period always goes on the next invoice.",
    )
    vendor: Vendor = Vendor()


class BillingProfile(_Strict):
    """An account's billing details and how it is taxed."""

    name: str | None = Field(default=None, max_length=300, description="null: the account's name")
    email: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=2000)
    tax_id: str | None = Field(default=None, max_length=64)
    jurisdiction: str | None = Field(default=None, max_length=64)
    tax_rates: dict[str, Decimal] = Field(
        default_factory=dict, description='Rates by name, as fractions: {"VAT": "0.19"}.'
    )
    tax_inclusive: bool = False
    tax_exempt: bool = False

    @field_validator("tax_rates")
    @classmethod
    def _rates(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for name, rate in rates.items():
            if not name.strip():
                raise ValueError("a tax rate needs a name")
            if not (Decimal(0) <= rate < Decimal(1)) or rate.as_tuple().exponent < -6:  # type: ignore[operator]
                raise ValueError(
                    f"rate {name!r} must be a fraction in [0, 1) with at most 6 decimals"
                )
        return rates

    def customer(self, account: str, account_name: str) -> Customer:
        """The invoice's addressee for this account."""
        tax = TaxProfile(
            rates=tuple(TaxRate(name, rate) for name, rate in sorted(self.tax_rates.items())),
            inclusive=self.tax_inclusive,
            exempt=self.tax_exempt,
            tax_id=self.tax_id,
            jurisdiction=self.jurisdiction,
        )
        return Customer(account, self.name or account_name, self.email, self.address, tax)


def format_number(prefix: str, year: int, value: int, digits: int) -> str:
    """An invoice or credit-note number: `INV-{year}-` and 123 in 2026 give `INV-2026-000123`."""
    return prefix.replace("{year}", str(year)) + str(value).zfill(digits)
