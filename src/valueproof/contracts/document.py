"""The contract document: one account's commercial terms, as YAML or JSON both sides can read.

The models check what one field can check on its own; `contracts.validation` checks the whole.
`ContractDocument.model_json_schema()` is the published JSON Schema.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from valueproof.errors import InvalidInput
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.money import Rounding, currency
from valueproof.periods import Cadence, parse_rfc3339

SCHEMA_ID = "https://valueproof.dev/schemas/contract.schema.json"


def _decimal_text(value: Any, info: ValidationInfo) -> Any:
    """Accept `12.50` or `"12.50 USD"`; a currency other than the contract's is refused."""
    if isinstance(value, bool):
        raise ValueError("expected a decimal number, not a boolean")
    if isinstance(value, float):
        return str(value)  # YAML and JSON parse 0.002 as a float; its shortest repr is the text
    if isinstance(value, str) and " " in value.strip():
        number, _, code = value.strip().rpartition(" ")
        expected = (info.context or {}).get("currency")
        if expected is not None and code != expected:
            raise ValueError(f"currency mismatch: {code} in a {expected} contract")
        return number
    return value


def _instant(value: Any) -> Any:
    """Dates mean midnight UTC; date-times must say their offset (RFC 3339)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time needs a UTC offset or Z (RFC 3339)")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        return parse_rfc3339(value)
    return value


def _decimal_schema(description: str, maximum: int | None = None) -> WithJsonSchema:
    """What the published schema says of a decimal: a number, or its text (exact)."""
    number: dict[str, Any] = {"type": "number", "minimum": 0}
    if maximum is not None:
        number["maximum"] = maximum
    text = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?( [A-Z]{3})?$"}
    return WithJsonSchema({"anyOf": [number, text], "description": description})


# A price per unit: any number of decimals (0.0004 USD a call is common), never negative.
Price = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(ge=0, allow_inf_nan=False),
    _decimal_schema("a price: a decimal >= 0, as a number or text, optionally '0.002 USD'"),
]
# A fixed amount of money: a whole number of the currency's minor units.
Amount = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(ge=0, allow_inf_nan=False),
    _decimal_schema("money: a decimal >= 0 in whole minor units of the currency ('499.00')"),
]
Quantity = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(ge=0, allow_inf_nan=False),
    _decimal_schema("a quantity: a decimal >= 0"),
]
Percent = Annotated[
    Decimal,
    BeforeValidator(_decimal_text),
    Field(ge=0, le=100, allow_inf_nan=False),
    _decimal_schema("a percentage from 0 to 100 ('2.9')", maximum=100),
]
Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ],
            "description": "RFC 3339 date-time with an offset, or a date (midnight UTC)",
        }
    ),
]
Key = Annotated[str, Field(pattern=KEY_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    """A tier of a tiered price: units above `from` up to and including `up_to`."""

    from_: Quantity | None = Field(default=None, alias="from")
    up_to: Quantity | None = None
    unit_price: Price
    flat_fee: Amount = Decimal(0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PercentTier(_Strict):
    """A tier of a graduated percentage: a slice of the amount at `percent`."""

    from_: Quantity | None = Field(default=None, alias="from")
    up_to: Quantity | None = None
    percent: Percent
    flat_fee: Amount = Decimal(0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Component(_Strict):
    id: Key
    description: str = ""
    when: str | None = Field(
        default=None,
        description="CEL over usage, period and account: the component applies "
        "in a period only when this is true.",
    )


class Metered(_Component):
    meter: Key
    filter: str | None = Field(
        default=None,
        description="CEL over `group` (the meter's group-by values): which usage "
        "groups this component counts.",
    )


class Flat(_Component):
    """A fixed fee per billing period, prorated for a partial period."""

    type: Literal["flat"]
    amount: Amount
    prorate: bool = True


class PerUnit(Metered):
    type: Literal["per_unit"]
    unit_price: Price


class Graduated(Metered):
    """Each tier prices its own slice of the quantity."""

    type: Literal["graduated"]
    tiers: list[Tier] = Field(min_length=1)


class Volume(Metered):
    """The whole quantity at the price of the tier it reaches."""

    type: Literal["volume"]
    tiers: list[Tier] = Field(min_length=1)


class Package(Metered):
    """Units sold in packages; a started package is charged in full, after free units."""

    type: Literal["package"]
    package_size: Quantity = Field(gt=0)
    package_price: Price
    free_units: Quantity = Decimal(0)


class Percentage(Metered):
    """A percentage of each transaction's amount (a sum meter) plus a fee per transaction."""

    type: Literal["percentage"]
    percent: Percent
    fixed_fee: Price = Decimal(0)
    minimum: Price | None = Field(default=None, description="per transaction")
    maximum: Price | None = Field(default=None, description="per transaction")
    free_transactions: int = Field(default=0, ge=0)
    free_volume: Quantity = Decimal(0)

    @property
    def per_transaction(self) -> bool:
        """Whether the price depends on each transaction, not on the period's totals alone: a
        per-transaction bound, free transactions, or free volume with a fixed fee (which
        transaction used the free volume decides who pays the fee)."""
        free_volume_fees = self.free_volume > 0 and self.fixed_fee != 0
        bounded = self.minimum is not None or self.maximum is not None
        return bounded or self.free_transactions > 0 or free_volume_fees

    @model_validator(mode="after")
    def _bounds(self) -> Percentage:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum is above maximum")
        return self


class GraduatedPercentage(Metered):
    type: Literal["graduated_percentage"]
    tiers: list[PercentTier] = Field(min_length=1)


class Commitment(_Component):
    """A minimum spend per period; a true-up line bills the shortfall."""

    type: Literal["commitment"]
    minimum: Amount
    applies_to: list[Key] | None = Field(
        default=None, description="components whose charges count; default: all usage ones"
    )
    prorate: bool = True


class CreditGrant(_Strict):
    id: Key
    amount: Amount
    granted: Instant
    expires: Instant | None = None

    @model_validator(mode="after")
    def _order(self) -> CreditGrant:
        if self.expires is not None and self.expires <= self.granted:
            raise ValueError("expires must be after granted")
        return self


class RecurringCredit(_Strict):
    amount: Amount
    rollover_cap: Amount | None = None
    expires_after_periods: int | None = Field(default=None, ge=1)


class PrepaidCredits(_Component):
    """A wallet of prepaid credit that the charges of `applies_to` draw down."""

    type: Literal["prepaid_credits"]
    grants: list[CreditGrant] = Field(default_factory=list)
    recurring: RecurringCredit | None = None
    applies_to: list[Key] | None = None


class PerOutcome(_Component):
    """A price per accepted outcome of one type, with optional caps per period."""

    type: Literal["per_outcome"]
    outcome: Key
    unit_price: Price
    max_count: int | None = Field(default=None, ge=0)
    max_amount: Amount | None = None


class GainTier(_Strict):
    threshold: Annotated[Decimal, BeforeValidator(_decimal_text), Field(allow_inf_nan=False)]
    percent: Percent


class Baseline(_Strict):
    value: Annotated[Decimal, BeforeValidator(_decimal_text), Field(allow_inf_nan=False)] | None = (
        None
    )
    as_of: Instant | None = Field(
        default=None, description="take the metric's reading in force at this instant"
    )

    @model_validator(mode="after")
    def _one(self) -> Baseline:
        if (self.value is None) == (self.as_of is None):
            raise ValueError("give exactly one of value and as_of")
        return self


class GainShare(_Component):
    """A share of the gain on a KPI read from oracle readings, by thresholds of improvement."""

    type: Literal["gain_share"]
    metric: Key
    baseline: Baseline
    value_per_unit: Price = Field(description="money one unit of improvement is worth")
    improvement: Literal["points", "percent"] = "points"
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    mode: Literal["whole", "graduated"] = "whole"
    tiers: list[GainTier] = Field(min_length=1)
    floor: Amount | None = None
    cap: Amount | None = None

    @model_validator(mode="after")
    def _tiers_ascend(self) -> GainShare:
        thresholds = [tier.threshold for tier in self.tiers]
        if thresholds != sorted(set(thresholds)):
            raise ValueError("tiers must have strictly ascending thresholds")
        if self.floor is not None and self.cap is not None and self.floor > self.cap:
            raise ValueError("floor is above cap")
        return self


class Seats(_Component):
    """Seats per period, with a credit for seats that were not active (fair billing)."""

    type: Literal["seats"]
    seats: Quantity | None = None
    seats_meter: Key | None = None
    active_meter: Key
    unit_price: Price
    inactive_credit_percent: Percent = Decimal(100)
    prorate: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> Seats:
        if (self.seats is None) == (self.seats_meter is None):
            raise ValueError("give exactly one of seats and seats_meter")
        return self


Component = Annotated[
    Flat
    | PerUnit
    | Graduated
    | Volume
    | Package
    | Percentage
    | GraduatedPercentage
    | Commitment
    | PrepaidCredits
    | PerOutcome
    | GainShare
    | Seats,
    Field(discriminator="type"),
]

USAGE_TYPES = frozenset(
    {"per_unit", "graduated", "volume", "package", "percentage", "graduated_percentage"}
)


class Discount(_Strict):
    """A discount on some components' charges, or on the whole invoice."""

    id: Key
    percent: Percent | None = None
    amount: Amount | None = None
    applies_to: list[Key] | None = Field(default=None, description="default: the whole invoice")
    when: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Discount:
        if (self.percent is None) == (self.amount is None):
            raise ValueError("give exactly one of percent and amount")
        return self


class Pending(_Strict):
    """Names the contract refers to that are defined after it is applied, declared on purpose:
    validation then warns instead of refusing them, and rating warns while they are undefined."""

    outcomes: list[Key] = Field(
        default_factory=list, description="outcome types whose definition comes later"
    )
    metrics: list[Key] = Field(
        default_factory=list, description="oracle metrics whose rule is registered later"
    )


class Billing(_Strict):
    period: Cadence = Cadence.MONTHLY
    anchor_day: int = Field(default=1, ge=1, le=31)
    grace_hours: int | None = Field(
        default=None,
        ge=0,
        le=24 * 90,
        description="Hours after a period ends before it closes into an invoice, for late "
        "usage; null: the tenant's default (72 unless set).",
    )


class Term(_Strict):
    start: Instant
    end: Instant | None = Field(default=None, description="null: renews until amended")

    @model_validator(mode="after")
    def _order(self) -> Term:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ContractDocument(_Strict):
    """One account's commercial terms. A new version of the same `contract` is an amendment."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": SCHEMA_ID, "title": "valueproof contract"},
    )

    contract: Key
    account: str = Field(min_length=1, max_length=200)
    description: str = ""
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    rounding: Rounding = Rounding.HALF_EVEN
    billing: Billing = Field(default_factory=Billing)
    term: Term
    effective_from: Instant | None = Field(
        default=None, description="when this version takes force; default: the term start"
    )
    components: list[Component] = Field(min_length=1)
    discounts: list[Discount] = Field(default_factory=list)
    invoice_maximum: Amount | None = None
    pending: Pending = Field(
        default_factory=Pending,
        description="outcomes and metrics that may be defined after the contract is applied",
    )

    @field_validator("currency")
    @classmethod
    def _iso(cls, code: str) -> str:
        try:
            currency(code)
        except InvalidInput as error:
            raise ValueError(error.reason) from None
        return code

    @property
    def starts(self) -> datetime:
        return self.effective_from or self.term.start

    def component(self, component_id: str) -> Any:
        return next(c for c in self.components if c.id == component_id)
