"""Event types (what a usage event of a kind must carry) and meters (how events become usage).

Both are plain documents: written as YAML or JSON, validated here with errors that name the
field, and stored as the canonical JSON of the validated model.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from valueproof.errors import InvalidInput, field_path, validation_reason

KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_.:-]{0,199}$"
_KEY = re.compile(KEY_PATTERN)


class PropertyType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"


class PropertySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: PropertyType
    required: bool = False
    description: str = ""


class EventType(BaseModel):
    """The declared shape of one kind of usage event; undeclared properties are kept as given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    description: str = ""
    properties: dict[str, PropertySpec] = Field(default_factory=dict)


class Aggregation(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MAX = "max"
    MIN = "min"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"
    TIME_WEIGHTED_SUM = "time_weighted_sum"


# Aggregations that read a numeric value (a property, or the event's top-level `value`).
NUMERIC_AGGREGATIONS = frozenset(
    {
        Aggregation.SUM,
        Aggregation.MAX,
        Aggregation.MIN,
        Aggregation.LATEST,
        Aggregation.TIME_WEIGHTED_SUM,
    }
)

FilterOp = Literal["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists"]


class Filter(BaseModel):
    """Keep only events whose property satisfies `op value` (`exists` takes a boolean)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    property: str
    op: FilterOp = "eq"
    value: Any = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Filter:
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a list value")
        if self.op in ("gt", "gte", "lt", "lte") and (
            isinstance(self.value, bool) or not isinstance(self.value, int | float)
        ):
            raise ValueError(f"op {self.op!r} needs a numeric value")
        if self.op == "exists" and not isinstance(self.value, bool):
            raise ValueError("op 'exists' needs true or false")
        return self


class Meter(BaseModel):
    """How events of one type aggregate into a usage quantity, per account and group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    name: str = ""
    event_type: str = Field(pattern=KEY_PATTERN)
    aggregation: Aggregation
    value_property: str | None = Field(
        default=None,
        description="Property holding the value (unique_count: the property counted); "
        "null means the event's top-level `value`.",
    )
    filters: list[Filter] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=list, max_length=8)
    unit: str = ""

    @model_validator(mode="after")
    def _group_by_unique(self) -> Meter:
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by lists a property twice")
        if self.aggregation is Aggregation.UNIQUE_COUNT and self.value_property is None:
            raise ValueError("unique_count needs value_property: the property whose values count")
        return self


def check_meter_against(meter: Meter, event_type: EventType) -> None:
    """Refuse a meter that reads properties its event type does not declare as it needs them."""
    props = event_type.properties
    if meter.value_property is not None:
        spec = props.get(meter.value_property)
        field = "value_property"
        if spec is None:
            raise InvalidInput(field, f"{event_type.key!r} declares no {meter.value_property!r}")
        numeric = spec.type in (PropertyType.NUMBER, PropertyType.INTEGER)
        if meter.aggregation in NUMERIC_AGGREGATIONS and not numeric:
            raise InvalidInput(field, f"{meter.value_property!r} is {spec.type}, not numeric")
        if meter.aggregation in NUMERIC_AGGREGATIONS and not spec.required:
            raise InvalidInput(field, f"{meter.value_property!r} must be a required property")
    for index, name in enumerate(meter.group_by):
        spec = props.get(name)
        if spec is None:
            raise InvalidInput(f"group_by[{index}]", f"{event_type.key!r} declares no {name!r}")
        if spec.type is PropertyType.NUMBER:
            raise InvalidInput(f"group_by[{index}]", f"{name!r} is a number; group by labels")
    for index, rule in enumerate(meter.filters):
        if rule.property not in props:
            raise InvalidInput(
                f"filters[{index}].property", f"{event_type.key!r} declares no {rule.property!r}"
            )


def parse_document(model: type[BaseModel], data: Any, where: str = "") -> Any:
    """Validate `data` as `model`, turning pydantic's errors into InvalidInput with a field path."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        path = field_path(first["loc"]) or "(document)"
        raise InvalidInput(f"{where}{path}" if where else path, validation_reason(first)) from None


def is_key(text: str) -> bool:
    """Whether `text` is a valid event type or meter key."""
    return bool(_KEY.match(text))
