"""Oracles in the store: register sources and metric rules, take signed readings, read values.

A reading is accepted only from a registered source, for a metric it may report, with a valid
signature, a fresh timestamp and a nonce it never used; it is then a ledger leaf before it is a
row, in the caller's transaction. Anything else is refused with the field and the reason, per
item, and leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, insert, select, update

from valueproof.batches import BatchStatus
from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.leaves import leaf_bytes
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.metering.schema import FieldError
from valueproof.outcomes.aggregation import (
    Flag,
    MetricRule,
    MetricValue,
    Observation,
    Rule,
    value_at,
)
from valueproof.outcomes.errors import ReadingRefused
from valueproof.outcomes.readings import (
    Reading,
    check_fresh,
    parse_public_key,
    parse_submission,
    reading_record,
    verify_signature,
)
from valueproof.outcomes.tables import oracle_metrics, oracle_readings, oracle_sources
from valueproof.periods import format_rfc3339, from_micros, to_micros

ORACLE_READING = "oracle_reading"
_RECORD_VERSION = 1

Status = Literal["created", "updated", "unchanged"]


class SourceDefinition(BaseModel):
    """A data source the vendor and its customer agreed on, and the key it signs with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    name: str = ""
    public_key: str = Field(description="Ed25519 public key: the raw 32 bytes, base64")
    metrics: list[str] = Field(min_length=1, description="the metrics it may report")
    max_age_seconds: int = Field(
        default=86_400, ge=60, description="a reading older than this is refused as stale"
    )

    @field_validator("public_key")
    @classmethod
    def _key_parses(cls, text: str) -> str:
        try:
            parse_public_key(text)
        except InvalidInput as error:
            raise ValueError(error.reason) from None
        return text


class MetricDefinition(BaseModel):
    """How a metric's value is read: one agreed source, or the median of at least k sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN)
    rule: Rule = Rule.SINGLE
    sources: list[str] = Field(min_length=1)
    min_sources: int = Field(default=1, ge=1)
    tolerance: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_age_seconds: int = Field(default=86_400 * 31, ge=60)

    @model_validator(mode="after")
    def _coherent(self) -> MetricDefinition:
        if self.rule is Rule.SINGLE and len(self.sources) != 1:
            raise ValueError("a single-source metric names exactly one source")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError("sources lists a source twice")
        if self.min_sources > len(self.sources):
            raise ValueError("min_sources is more than the sources listed")
        return self

    def rule_of(self) -> MetricRule:
        return MetricRule(
            metric=self.key,
            rule=self.rule,
            sources=tuple(self.sources),
            min_sources=self.min_sources,
            tolerance=self.tolerance,
            max_age=timedelta(seconds=self.max_age_seconds),
        )


@dataclass(frozen=True, slots=True)
class ReadingResult:
    """One submitted item's outcome."""

    index: int
    status: BatchStatus
    errors: tuple[FieldError, ...] = ()
    leaf_index: int | None = None


@dataclass(frozen=True, slots=True)
class StoredReading:
    source: str
    metric: str
    value: Decimal
    as_of: datetime
    nonce: str
    leaf_index: int


def _dump(model: BaseModel) -> str:
    return orjson.dumps(model.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()


def apply_source(
    connection: Connection, tenant_id: int, source: SourceDefinition, now_us: int
) -> Status:
    """Register a source, or update it (a new key, more metrics); the caller holds the lock."""
    for key, rule in metrics(connection, tenant_id).items():
        if source.key in rule.sources and key not in source.metrics:
            raise InvalidInput(
                "metrics", f"metric {key!r} reads this source: keep it, or change its rule first"
            )
    text = _dump(source)
    row = connection.execute(
        select(oracle_sources.c.id, oracle_sources.c.definition).where(
            oracle_sources.c.tenant_id == tenant_id, oracle_sources.c.key == source.key
        )
    ).first()
    if row is None:
        connection.execute(
            insert(oracle_sources).values(
                tenant_id=tenant_id,
                key=source.key,
                definition=text,
                created_us=now_us,
                updated_us=now_us,
            )
        )
        return "created"
    if row.definition == text:
        return "unchanged"
    connection.execute(
        update(oracle_sources)
        .where(oracle_sources.c.id == row.id)
        .values(definition=text, updated_us=now_us)
    )
    return "updated"


def sources(connection: Connection, tenant_id: int) -> dict[str, tuple[int, SourceDefinition]]:
    """The tenant's sources by key, with their ids."""
    rows = connection.execute(
        select(oracle_sources.c.id, oracle_sources.c.key, oracle_sources.c.definition).where(
            oracle_sources.c.tenant_id == tenant_id
        )
    )
    return {row.key: (row.id, SourceDefinition.model_validate_json(row.definition)) for row in rows}


def apply_metric(
    connection: Connection, tenant_id: int, metric: MetricDefinition, now_us: int
) -> Status:
    """Set a metric's rule; every source it names must be registered to report it."""
    known = sources(connection, tenant_id)
    for index, key in enumerate(metric.sources):
        found = known.get(key)
        if found is None:
            raise InvalidInput(f"sources[{index}]", f"no source {key!r} is registered")
        if metric.key not in found[1].metrics:
            raise InvalidInput(f"sources[{index}]", f"source {key!r} may not report {metric.key!r}")
    text = _dump(metric)
    row = connection.execute(
        select(oracle_metrics.c.definition).where(
            oracle_metrics.c.tenant_id == tenant_id, oracle_metrics.c.key == metric.key
        )
    ).first()
    if row is None:
        connection.execute(
            insert(oracle_metrics).values(
                tenant_id=tenant_id,
                key=metric.key,
                definition=text,
                created_us=now_us,
                updated_us=now_us,
            )
        )
        return "created"
    if row.definition == text:
        return "unchanged"
    connection.execute(
        update(oracle_metrics)
        .where(oracle_metrics.c.tenant_id == tenant_id, oracle_metrics.c.key == metric.key)
        .values(definition=text, updated_us=now_us)
    )
    return "updated"


def metrics(connection: Connection, tenant_id: int) -> dict[str, MetricDefinition]:
    """The tenant's metric rules by key."""
    rows = connection.execute(
        select(oracle_metrics.c.key, oracle_metrics.c.definition).where(
            oracle_metrics.c.tenant_id == tenant_id
        )
    )
    return {row.key: MetricDefinition.model_validate_json(row.definition) for row in rows}


def oracle_reading_leaf(record: dict[str, Any]) -> bytes:
    """The canonical leaf of an accepted reading (record schema version 1)."""
    return leaf_bytes(ORACLE_READING, _RECORD_VERSION, record)


def submit_readings(
    connection: Connection, tenant_id: int, items: Sequence[Any], now: datetime
) -> list[ReadingResult]:
    """Verify and store a batch of signed readings (the caller holds the tenant lock).

    Per item: accepted, duplicate (the same signed reading again), conflict (its nonce was used
    for another reading) or rejected with every reason that applies.
    """
    known = sources(connection, tenant_id)
    results: list[ReadingResult] = []
    for index, item in enumerate(items):
        try:
            reading, signature = parse_submission(item)
        except ReadingRefused as error:
            results.append(
                ReadingResult(index, "rejected", (FieldError(error.field, error.reason),))
            )
            continue
        results.append(_take(connection, tenant_id, known, index, reading, signature, now))
    return results


def _take(
    connection: Connection,
    tenant_id: int,
    known: dict[str, tuple[int, SourceDefinition]],
    index: int,
    reading: Reading,
    signature: bytes,
    now: datetime,
) -> ReadingResult:
    found = known.get(reading.source)
    if found is None:
        error = FieldError("reading.source", f"no source {reading.source!r} is registered")
        return ReadingResult(index, "rejected", (error,))
    source_id, source = found
    problems = []
    if reading.metric not in source.metrics:
        reason = f"source {reading.source!r} may not report {reading.metric!r}"
        problems.append(FieldError("reading.metric", reason))
    try:
        verify_signature(parse_public_key(source.public_key), reading, signature)
    except ReadingRefused as error:
        problems.append(FieldError(error.field, error.reason))
    try:
        check_fresh(reading, now, timedelta(seconds=source.max_age_seconds))
    except ReadingRefused as error:
        problems.append(FieldError(error.field, error.reason))
    if problems:
        return ReadingResult(index, "rejected", tuple(problems))
    used = connection.execute(
        select(oracle_readings.c.signature, oracle_readings.c.leaf_index).where(
            oracle_readings.c.tenant_id == tenant_id,
            oracle_readings.c.source_id == source_id,
            oracle_readings.c.nonce == reading.nonce,
        )
    ).first()
    if used is not None:
        if bytes(used.signature) == signature:
            return ReadingResult(index, "duplicate", leaf_index=used.leaf_index)
        reason = "this nonce was used for another reading (a replay, or a reused nonce)"
        return ReadingResult(index, "conflict", (FieldError("reading.nonce", reason),))
    received = to_micros(now)
    leaf = oracle_reading_leaf(reading_record(reading, signature))
    leaf_index = ledger_log.append(connection, tenant_id, [leaf], received)
    connection.execute(
        insert(oracle_readings).values(
            tenant_id=tenant_id,
            source_id=source_id,
            metric=reading.metric,
            value=reading.payload()["value"],
            as_of_us=to_micros(reading.as_of),
            nonce=reading.nonce,
            signature=signature,
            leaf_index=leaf_index,
            received_us=received,
        )
    )
    return ReadingResult(index, "accepted", leaf_index=leaf_index)


def stored_readings(
    connection: Connection,
    tenant_id: int,
    metric: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[StoredReading]:
    """A metric's readings with as_of in [start, end), oldest first."""
    query = (
        select(
            oracle_sources.c.key,
            oracle_readings.c.metric,
            oracle_readings.c.value,
            oracle_readings.c.as_of_us,
            oracle_readings.c.nonce,
            oracle_readings.c.leaf_index,
        )
        .join(oracle_sources, oracle_sources.c.id == oracle_readings.c.source_id)
        .where(oracle_readings.c.tenant_id == tenant_id, oracle_readings.c.metric == metric)
        .order_by(oracle_readings.c.as_of_us, oracle_readings.c.leaf_index)
    )
    if start is not None:
        query = query.where(oracle_readings.c.as_of_us >= to_micros(start))
    if end is not None:
        query = query.where(oracle_readings.c.as_of_us < to_micros(end))
    return [
        StoredReading(
            row.key,
            row.metric,
            Decimal(row.value),
            from_micros(row.as_of_us),
            row.nonce,
            row.leaf_index,
        )
        for row in connection.execute(query)
    ]


def metric_value(
    connection: Connection, tenant_id: int, metric: str, at: datetime
) -> MetricValue | Flag:
    """The metric's value at `at` by its rule, or the flag that stands for a number."""
    definition = metrics(connection, tenant_id).get(metric)
    if definition is None:
        raise NotFound(f"no metric {metric!r}: give it a rule first")
    rule = definition.rule_of()
    found = stored_readings(connection, tenant_id, metric, at - rule.max_age, at + _INSTANT)
    observations = [
        Observation(r.source, r.value, r.as_of, r.leaf_index)
        for r in found
        if r.source in rule.sources
    ]
    return value_at(rule, observations, at)


_INSTANT = timedelta(microseconds=1)  # `at` itself counts


def reading_result_json(result: ReadingResult) -> dict[str, Any]:
    """One submitted reading's outcome as the API and the CLI print it."""
    return {
        "index": result.index,
        "status": result.status,
        "errors": [{"field": e.field, "reason": e.reason} for e in result.errors],
        "leaf_index": result.leaf_index,
    }


def stored_reading_json(reading: StoredReading) -> dict[str, Any]:
    """A stored reading as JSON: the value as its exact text."""
    return {
        "source": reading.source,
        "metric": reading.metric,
        "value": format(reading.value, "f"),
        "as_of": format_rfc3339(reading.as_of),
        "nonce": reading.nonce,
        "leaf_index": reading.leaf_index,
    }


def value_json(found: MetricValue | Flag) -> dict[str, Any]:
    """A metric's value (or its flag) with the readings it was drawn from."""
    used = [_observation_json(o) for o in found.used]
    if isinstance(found, Flag):
        return {"metric": found.metric, "flag": found.reason, "used": used}
    return {
        "metric": found.metric,
        "value": format(found.value, "f"),
        "as_of": format_rfc3339(found.as_of),
        "used": used,
    }


def _observation_json(observation: Observation) -> dict[str, Any]:
    return {
        "source": observation.source,
        "value": format(observation.value, "f"),
        "as_of": format_rfc3339(observation.as_of),
        "leaf_index": observation.leaf_index,
    }
