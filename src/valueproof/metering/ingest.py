"""The one ingest path (HTTP, CloudEvents, files): validate, dedupe, correct, store, roll up.

A batch is one transaction under the tenant's write lock: its accepted events, their rollups and
the corrections they make land together or not at all. Each item gets exactly one outcome:
accepted, duplicate (same id, same content: a no-op), conflict (same id, other content: nothing
changes) or rejected (with every field and reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, select, update

from valueproof.batches import BatchCounts, BatchStatus
from valueproof.ledger import log as ledger_log
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.metering.aggregations import CompiledMeter, FoldInput, fold
from valueproof.metering.definitions import Aggregation
from valueproof.metering.formats import ParseFailure
from valueproof.metering.registry import Catalog, load_catalog
from valueproof.metering.rollups import apply_deltas, refold_buckets, remove_gauge_points
from valueproof.metering.schema import FieldError, Limits, ValidEvent, validate_event
from valueproof.metering.tables import events
from valueproof.periods import MICROS_PER_HOUR
from valueproof.store import placeholder, tenant_lock, write
from valueproof.tenancy.accounts import account_ids
from valueproof.tenancy.clock import now_us

_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item of a batch."""

    index: int
    id: str | None
    status: BatchStatus
    errors: tuple[FieldError, ...] = ()
    location: str | None = None


@dataclass(frozen=True, slots=True)
class IngestOptions:
    max_future_us: int = 300_000_000
    strings_as_values: bool = False  # CSV: cells are strings, coerced by declared type
    clock: Callable[[], int] = now_us
    checkpoints: CheckpointPolicy | None = None  # sign a checkpoint after the batch, if due


@dataclass(slots=True)
class _Stored:
    """What corrections need to know of an event on record or earlier in the batch."""

    seq: int | None
    account_id: int
    type: str
    ts_us: int
    properties: dict[str, Any]
    value_micros: int | None
    correction: str | None
    superseded_by: str | None
    in_batch: bool


@dataclass(slots=True)
class _Batch:
    """Working state of one batch inside its transaction."""

    tenant_id: int
    catalog: Catalog
    results: list[ItemResult | None]
    first: int  # the stream index of this batch's first item
    accepted: list[tuple[int, ValidEvent, int]] = field(default_factory=list)  # index, event, acct
    supersede: dict[str, str] = field(default_factory=dict)  # target id -> correcting id
    withdrawn: dict[str, _Stored] = field(default_factory=dict)  # on-record, now superseded


def ingest_batch(
    engine: Engine,
    tenant_id: int,
    items: Sequence[Any],
    options: IngestOptions | None = None,
    first_index: int = 0,
) -> list[ItemResult]:
    """Ingest one batch in one transaction; returns a result per item, in order.

    Results are numbered from `first_index` (the batch's place in a longer stream).
    """
    options = options or IngestOptions()
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        return ingest_in(connection, tenant_id, items, options, first_index)


def ingest_stream(
    engine: Engine,
    tenant_id: int,
    items: Iterable[Any],
    chunk: int,
    options: IngestOptions | None = None,
    on_chunk: Callable[[list[ItemResult]], None] | None = None,
) -> BatchCounts:
    """Ingest an endless or huge stream chunk by chunk; each chunk commits before the next.

    Memory stays bounded by `chunk`; `on_chunk` sees each chunk's results after its commit
    (the moment they are acknowledged).
    """
    summary = BatchCounts()
    offset = 0
    for batch in batches(items, chunk):
        results = ingest_batch(engine, tenant_id, batch, options, offset)
        offset += len(batch)
        summary.add(result.status for result in results)
        if on_chunk is not None:
            on_chunk(results)
    return summary


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to `size` items, in order (itertools.batched, before Python 3.12)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_in(
    connection: Connection,
    tenant_id: int,
    items: Sequence[Any],
    options: IngestOptions,
    first_index: int = 0,
) -> list[ItemResult]:
    """Ingest inside a transaction the caller holds (with the tenant lock taken)."""
    catalog = load_catalog(connection, tenant_id)
    batch = _Batch(
        tenant_id=tenant_id, catalog=catalog, results=[None] * len(items), first=first_index
    )
    valid = _validate(batch, items, options)
    resolved = _resolve_accounts(connection, batch, items, valid)
    fresh = _dedupe(connection, batch, resolved)
    _correct(connection, batch, fresh)
    _store(connection, batch, options)
    return [result for result in batch.results if result is not None]


def _reject(batch: _Batch, index: int, event_id: str | None, *errors: FieldError) -> None:
    batch.results[index] = ItemResult(batch.first + index, event_id, "rejected", tuple(errors))


def _validate(
    batch: _Batch, items: Sequence[Any], options: IngestOptions
) -> list[tuple[int, ValidEvent]]:
    limits = Limits(
        now_us=options.clock(),
        max_future_us=options.max_future_us,
        strings_as_values=options.strings_as_values,
        value_required_by=batch.catalog.value_required_by,
        metered_by=batch.catalog.metered_by,
    )
    valid: list[tuple[int, ValidEvent]] = []
    for index, item in enumerate(items):
        if isinstance(item, ParseFailure):
            batch.results[index] = ItemResult(
                batch.first + index,
                None,
                "rejected",
                (FieldError(item.field, item.reason),),
                item.location,
            )
            continue
        checked = validate_event(item, batch.catalog.types, limits)
        if isinstance(checked, ValidEvent):
            valid.append((index, checked))
        else:
            raw_id = item.get("id") if isinstance(item, dict) else None
            _reject(batch, index, raw_id if isinstance(raw_id, str) else None, *checked)
    return valid


def _resolve_accounts(
    connection: Connection,
    batch: _Batch,
    items: Sequence[Any],
    valid: list[tuple[int, ValidEvent]],
) -> list[tuple[int, ValidEvent, int]]:
    """The valid items' account ids; an unknown account rejects its item, and is added to the
    problems of an item already rejected for other fields, so every problem shows at once."""
    refused = {
        index: item["account"]
        for index, item in enumerate(items)
        if batch.results[index] is not None
        and isinstance(item, dict)
        and isinstance(item.get("account"), str)
        and item["account"]
        and "\0" not in item["account"]  # refused for it already; no database may be asked
    }
    names = {event.account for _, event in valid} | set(refused.values())
    known = account_ids(connection, batch.tenant_id, names)
    for index, account in refused.items():
        result = batch.results[index]
        if result is None or account in known or any(e.field == "account" for e in result.errors):
            continue
        unknown = FieldError("account", f"unknown account {account!r}")
        batch.results[index] = replace(result, errors=(*result.errors, unknown))
    resolved = []
    for index, event in valid:
        account_id = known.get(event.account)
        if account_id is None:
            _reject(
                batch,
                index,
                event.event_id,
                FieldError("account", f"unknown account {event.account!r}"),
            )
        else:
            resolved.append((index, event, account_id))
    return resolved


def _dedupe(
    connection: Connection, batch: _Batch, valid: list[tuple[int, ValidEvent, int]]
) -> list[tuple[int, ValidEvent, int]]:
    """Keep the items whose id is new; classify the rest as duplicate or conflict.

    Same content means the same ledger leaf: the digest is of the leaf, so a client that
    re-serializes a retry (2.0 for 2, other key order) sends a duplicate. Rows stored before
    the digest was of the leaf differ in digest; their leaf on the ledger decides.
    """
    stored = _existing_digests(connection, batch.tenant_id, [e.event_id for _, e, _ in valid])
    on_record = {event_id: digest for event_id, (digest, _) in stored.items()}
    fresh: list[tuple[int, ValidEvent, int]] = []
    for index, event, account_id in valid:
        earlier = on_record.get(event.event_id)
        if earlier is None:
            on_record[event.event_id] = event.content_sha256
            fresh.append((index, event, account_id))
        else:
            same = earlier == event.content_sha256 or _same_leaf(
                connection, batch.tenant_id, stored.get(event.event_id), event.leaf
            )
            status: BatchStatus = "duplicate" if same else "conflict"
            errors = (
                ()
                if status == "duplicate"
                else (FieldError("id", "an event with this id and other content is on record"),)
            )
            batch.results[index] = ItemResult(batch.first + index, event.event_id, status, errors)
    return fresh


def _same_leaf(
    connection: Connection, tenant_id: int, stored: tuple[bytes, int | None] | None, leaf: bytes
) -> bool:
    """Whether an event on record (digest, leaf index) has exactly this leaf on the ledger."""
    if stored is None or stored[1] is None:
        return False
    return ledger_log.entry(connection, tenant_id, stored[1]) == leaf


def _existing_digests(
    connection: Connection, tenant_id: int, ids: list[str]
) -> dict[str, tuple[bytes, int | None]]:
    """Content digest and leaf index of the events on record among `ids` (raw SQL: this runs
    per event)."""
    found: dict[str, tuple[bytes, int | None]] = {}
    mark = placeholder(connection)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start : start + _LOOKUP_CHUNK]
        marks = ",".join([mark] * len(chunk))
        rows = connection.exec_driver_sql(
            "SELECT event_id, content_sha256, leaf_index FROM events "
            f"WHERE tenant_id = {mark} AND event_id IN ({marks})",
            (tenant_id, *chunk),
        )
        found.update({event_id: (bytes(digest), leaf) for event_id, digest, leaf in rows})
    return found


def _correct(
    connection: Connection, batch: _Batch, fresh: list[tuple[int, ValidEvent, int]]
) -> None:
    """Check each void/amend against its target, in batch order; accept the rest as they are."""
    targets = {event.corrects for _, event, _ in fresh if event.corrects is not None}
    if not targets:
        batch.accepted = fresh
        return
    known = _load_targets(connection, batch.tenant_id, targets)
    for index, event, account_id in fresh:
        if event.corrects is not None:
            problem = _correction_problem(event, account_id, known.get(event.corrects))
            if problem is not None:
                _reject(batch, index, event.event_id, problem)
                continue
            target = known[event.corrects]
            target.superseded_by = event.event_id
            batch.supersede[event.corrects] = event.event_id
            if not target.in_batch:
                batch.withdrawn[event.corrects] = target
        batch.accepted.append((index, event, account_id))
        known[event.event_id] = _Stored(
            seq=None,
            account_id=account_id,
            type=event.type,
            ts_us=event.ts_us,
            properties=event.properties,
            value_micros=event.value_micros,
            correction=event.correction,
            superseded_by=None,
            in_batch=True,
        )


def _correction_problem(
    event: ValidEvent, account_id: int, target: _Stored | None
) -> FieldError | None:
    field_name = "voids" if event.correction == "void" else "amends"
    if target is None:
        return FieldError(field_name, f"no event {event.corrects!r} on record")
    if target.superseded_by is not None:
        return FieldError(
            field_name, f"{event.corrects!r} was already corrected by {target.superseded_by!r}"
        )
    if target.correction == "void":
        return FieldError(field_name, f"{event.corrects!r} is a void and cannot be corrected")
    if target.account_id != account_id:
        return FieldError("account", f"differs from the account of {event.corrects!r}")
    if target.type != event.type:
        return FieldError("type", f"differs from the type of {event.corrects!r}")
    return None


def _load_targets(connection: Connection, tenant_id: int, ids: set[str]) -> dict[str, _Stored]:
    wanted = list(ids)
    found: dict[str, _Stored] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        rows = connection.execute(
            select(events).where(
                events.c.tenant_id == tenant_id,
                events.c.event_id.in_(wanted[start : start + _LOOKUP_CHUNK]),
            )
        )
        for row in rows:
            found[row.event_id] = _Stored(
                seq=row.seq,
                account_id=row.account_id,
                type=row.type,
                ts_us=row.ts_us,
                properties=orjson.loads(row.properties),
                value_micros=row.value_micros,
                correction=row.correction,
                superseded_by=row.superseded_by,
                in_batch=False,
            )
    return found


_INSERT_COLUMNS = (
    "seq, tenant_id, event_id, account_id, type, ts_us, properties, value_micros, corrects, "
    "correction, superseded_by, content_sha256, received_us, leaf_index"
)


def _store(connection: Connection, batch: _Batch, options: IngestOptions) -> None:
    """Insert accepted events, mark what they supersede, and bring the rollups along."""
    if not batch.accepted:
        return
    tenant_id = batch.tenant_id
    seqs = _next_seqs(connection, len(batch.accepted))
    received = options.clock()
    # On the record before it counts: each accepted event is a leaf, in this same transaction.
    first_leaf = ledger_log.append(
        connection, tenant_id, [event.leaf for _, event, _ in batch.accepted], received
    )
    supersede = batch.supersede
    rows = []
    in_force: list[FoldInput] = []
    for leaf_index, (seq, (index, event, account_id)) in enumerate(
        zip(seqs, batch.accepted, strict=True), start=first_leaf
    ):
        superseded_by = supersede.get(event.event_id) if supersede else None
        rows.append(
            (
                seq,
                tenant_id,
                event.event_id,
                account_id,
                event.type,
                event.ts_us,
                event.properties_json,
                event.value_micros,
                event.corrects,
                event.correction,
                superseded_by,
                event.content_sha256,
                received,
                leaf_index,
            )
        )
        batch.results[index] = ItemResult(batch.first + index, event.event_id, "accepted")
        if superseded_by is None and event.correction != "void":
            in_force.append(
                FoldInput(
                    seq,
                    account_id,
                    event.type,
                    event.ts_us,
                    event.properties,
                    event.value_micros,
                    leaf_index,
                )
            )
    mark = placeholder(connection)
    connection.exec_driver_sql(
        f"INSERT INTO events ({_INSERT_COLUMNS}) VALUES ({', '.join([mark] * 14)})", rows
    )
    if batch.withdrawn:
        connection.execute(
            update(events)
            .where(events.c.tenant_id == tenant_id, events.c.event_id == bindparam("target"))
            .values(superseded_by=bindparam("by")),
            [{"target": target, "by": batch.supersede[target]} for target in batch.withdrawn],
        )
    buckets, points = fold(in_force, batch.catalog.meters_by_type)
    apply_deltas(connection, tenant_id, buckets, points)
    _withdraw(connection, batch)
    if options.checkpoints is not None:
        after_append(connection, tenant_id, options.checkpoints, received)


def _next_seqs(connection: Connection, count: int) -> list[int]:
    """`count` increasing sequence numbers, drawn under the write lock the caller holds."""
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT nextval('events_seq') FROM generate_series(1, %s)", (count,)
        )
        return sorted(value for (value,) in rows)
    # SQLite: one writer at a time (BEGIN IMMEDIATE), and seq is the rowid: max() is one seek.
    last = connection.exec_driver_sql("SELECT max(seq) FROM events").scalar()
    first = (last or 0) + 1
    return list(range(first, first + count))


def _withdraw(connection: Connection, batch: _Batch) -> None:
    """Take superseded on-record events out of their buckets and gauge series."""
    touched: list[tuple[CompiledMeter, int, str, int]] = []
    for target in batch.withdrawn.values():
        gauges: list[int] = []
        for compiled in batch.catalog.meters_by_type.get(target.type, ()):
            if not compiled.matches(target.properties):
                continue
            if compiled.meter.aggregation is Aggregation.TIME_WEIGHTED_SUM:
                gauges.append(compiled.id)
            else:
                dims = compiled.dims(target.properties)
                touched.append((compiled, target.account_id, dims, target.ts_us // MICROS_PER_HOUR))
        assert target.seq is not None
        remove_gauge_points(connection, batch.tenant_id, gauges, target.seq)
    refold_buckets(connection, batch.tenant_id, touched)


def result_json(result: ItemResult) -> dict[str, Any]:
    """One item's outcome as the API and the CLI print it."""
    answer: dict[str, Any] = {"index": result.index, "id": result.id, "status": result.status}
    if result.errors:
        answer["errors"] = [{"field": e.field, "reason": e.reason} for e in result.errors]
    if result.location:
        answer["location"] = result.location
    return answer
