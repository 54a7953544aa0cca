"""The audit against tampering done directly in the database: each kind is caught and named."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Connection, Engine, delete, select, update

from valueproof.ledger import log
from valueproof.ledger.audit import AuditReport, audit
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import latest_checkpoint, publish_checkpoint
from valueproof.ledger.tables import ledger_bundles, ledger_checkpoints, ledger_logs, ledger_tiles
from valueproof.ledger.tiles import bundle_entries, decode_bundle
from valueproof.metering.events_source import UsageEventSource
from valueproof.metering.tables import events
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.tenants import Tenant

from .conftest import Ingest, call

SOURCES = (UsageEventSource(),)
SIZE = 600  # three batches, across the first hash tile and entry bundle boundary


@pytest.fixture
def book(engine: Engine, ledgered: Tenant, ingest: Ingest) -> Tenant:
    """600 events on the log in three batches, each followed by a signed checkpoint."""
    for start in range(0, SIZE, 200):
        results = ingest([call(n) for n in range(start, start + 200)])
        assert {r.status for r in results} == {"accepted"}
    return ledgered


def run_audit(engine: Engine, tenant: Tenant, seen: Sequence[str] = ()) -> AuditReport:
    with read(engine) as connection:
        return audit(connection, tenant.id, SOURCES, seen)


def kinds(report: AuditReport) -> set[str]:
    return {finding.kind for finding in report.findings}


def tamper(engine: Engine, statement: object) -> None:
    with write(engine) as connection:
        connection.execute(statement)  # type: ignore[call-overload]


def test_an_untouched_log_passes(engine: Engine, book: Tenant) -> None:
    report = run_audit(engine, book)
    assert report.ok, report.findings
    assert (report.size, report.checkpoints, report.latest_checkpoint) == (SIZE, 3, SIZE)


def test_an_edited_record_is_named(engine: Engine, book: Tenant) -> None:
    tamper(
        engine,
        update(events)
        .where(events.c.tenant_id == book.id, events.c.event_id == "e5")
        .values(properties='{"tokens":4}'),
    )
    tamper(
        engine,
        update(events)
        .where(events.c.tenant_id == book.id, events.c.event_id == "e300")
        .values(ts_us=events.c.ts_us + 1),
    )
    report = run_audit(engine, book)
    assert [(f.kind, f.record, f.leaf_index) for f in report.findings] == [
        ("edited", "e5", 5),
        ("edited", "e300", 300),
    ]


def test_a_deleted_record_is_named(engine: Engine, book: Tenant) -> None:
    tamper(engine, delete(events).where(events.c.tenant_id == book.id, events.c.event_id == "e7"))
    report = run_audit(engine, book)
    assert [(f.kind, f.record, f.leaf_index) for f in report.findings] == [("deleted", "e7", 7)]


def test_an_inserted_record_is_named(engine: Engine, book: Tenant) -> None:
    with write(engine) as connection:
        original = (
            connection.execute(
                select(events).where(events.c.tenant_id == book.id, events.c.event_id == "e9")
            )
            .mappings()
            .one()
        )
        for number, leaf_index in ((1, None), (2, SIZE + 5)):
            connection.execute(
                events.insert().values(
                    {
                        **original,
                        # below every sequence number ingest hands out, on both backends
                        "seq": -(book.id * 10 + number),
                        "event_id": f"forged-{number}",
                        "leaf_index": leaf_index,
                    }
                )
            )
    report = run_audit(engine, book)
    assert {(f.kind, f.record) for f in report.findings} == {
        ("inserted", "forged-1"),
        ("inserted", "forged-2"),
    }


def test_records_moved_to_each_others_leaves_are_named_reordered(
    engine: Engine, book: Tenant
) -> None:
    with write(engine) as connection:
        for event_id, leaf_index in (("e3", -1), ("e9", 3), ("e3", 9)):
            connection.execute(
                update(events)
                .where(events.c.tenant_id == book.id, events.c.event_id == event_id)
                .values(leaf_index=leaf_index)
            )
    report = run_audit(engine, book)
    assert {(f.kind, f.record) for f in report.findings} == {
        ("reordered", "e3"),
        ("reordered", "e9"),
        ("inserted", "e9"),
        ("inserted", "e3"),
    }


def test_leaves_swapped_in_the_log_are_named_and_break_the_checkpoints(
    engine: Engine, book: Tenant
) -> None:
    with write(engine) as connection:
        blob = connection.execute(
            select(ledger_bundles.c.entries).where(
                ledger_bundles.c.tenant_id == book.id, ledger_bundles.c.bundle_index == 0
            )
        ).scalar_one()
        entries = decode_bundle(blob)
        entries[3], entries[9] = entries[9], entries[3]
        connection.execute(
            update(ledger_bundles)
            .where(ledger_bundles.c.tenant_id == book.id, ledger_bundles.c.bundle_index == 0)
            .values(entries=bundle_entries(entries))
        )
    report = run_audit(engine, book)
    assert {"reordered", "corrupt", "rewritten"} <= kinds(report)
    assert {f.leaf_index for f in report.findings if f.kind == "reordered"} >= {3, 9}


def test_history_rewritten_consistently_still_contradicts_the_signed_checkpoints(
    engine: Engine, book: Tenant
) -> None:
    tamper(
        engine,
        update(events)
        .where(events.c.tenant_id == book.id, events.c.event_id == "e42")
        .values(properties='{"tokens":0}'),
    )
    with write(engine) as connection:
        _rebuild(connection, book.id, SIZE)  # entries and tiles now agree with the edited record
    report = run_audit(engine, book)
    assert kinds(report) == {"rewritten"}
    assert len(report.findings) == 3  # every checkpoint from size 200 on


def test_a_rolled_back_log_is_caught_by_a_checkpoint_seen_before(
    engine: Engine, book: Tenant
) -> None:
    with read(engine) as connection:
        seen = latest_checkpoint(connection, book.id)
    assert seen is not None
    with write(engine) as connection:  # drop the last batch with everything that covered it
        connection.execute(
            delete(events).where(events.c.tenant_id == book.id, events.c.leaf_index >= 400)
        )
        connection.execute(
            delete(ledger_checkpoints).where(
                ledger_checkpoints.c.tenant_id == book.id, ledger_checkpoints.c.size > 400
            )
        )
        _rebuild(connection, book.id, 400)
    assert run_audit(engine, book).ok  # the store alone cannot tell: that is what witnesses are for
    report = run_audit(engine, book, [seen.note])
    assert kinds(report) == {"rolled_back"}
    assert "600" in report.findings[0].message


def test_a_forked_log_is_caught_by_a_checkpoint_seen_before(
    engine: Engine, book: Tenant, keyring: Keyring
) -> None:
    with read(engine) as connection:
        seen = latest_checkpoint(connection, book.id)
    assert seen is not None
    tamper(
        engine,
        update(events)
        .where(events.c.tenant_id == book.id, events.c.event_id == "e42")
        .values(properties='{"tokens":0}'),
    )
    with write(engine) as connection:  # an insider with the signing key re-signs the new history
        connection.execute(
            delete(ledger_checkpoints).where(ledger_checkpoints.c.tenant_id == book.id)
        )
        _rebuild(connection, book.id, SIZE, sign_every=200, keyring=keyring)
    assert run_audit(engine, book).ok
    report = run_audit(engine, book, [seen.note])
    assert kinds(report) == {"forked"}


def test_a_corrupted_hash_tile_and_a_forged_checkpoint_are_named(
    engine: Engine, book: Tenant
) -> None:
    with write(engine) as connection:
        tile = connection.execute(
            select(ledger_tiles.c.hashes).where(
                ledger_tiles.c.tenant_id == book.id,
                ledger_tiles.c.tile_level == 1,
                ledger_tiles.c.tile_index == 0,
            )
        ).scalar_one()
        connection.execute(
            update(ledger_tiles)
            .where(ledger_tiles.c.tenant_id == book.id, ledger_tiles.c.tile_level == 1)
            .values(hashes=bytes([tile[0] ^ 1]) + bytes(tile[1:]))
        )
        note = connection.execute(
            select(ledger_checkpoints.c.note).where(
                ledger_checkpoints.c.tenant_id == book.id, ledger_checkpoints.c.size == 200
            )
        ).scalar_one()
        connection.execute(
            update(ledger_checkpoints)
            .where(ledger_checkpoints.c.tenant_id == book.id, ledger_checkpoints.c.size == 200)
            .values(note=note.replace("\n200\n", "\n201\n"))
        )
    report = run_audit(engine, book)
    assert kinds(report) == {"corrupt"}
    messages = " ".join(f.message for f in report.findings)
    assert "hash tile 1/0" in messages and "does not verify" in messages


def _rebuild(
    connection: Connection,
    tenant_id: int,
    size: int,
    sign_every: int | None = None,
    keyring: Keyring | None = None,
) -> None:
    """Rebuild the log's first `size` leaves from the records, as a tamperer with write access."""
    tenant_lock(connection, tenant_id)
    for table in (ledger_tiles, ledger_bundles, ledger_logs):
        connection.execute(delete(table).where(table.c.tenant_id == tenant_id))
    leaves = [
        record.leaf
        for record in UsageEventSource().records(connection, tenant_id)
        if record.leaf_index is not None and record.leaf_index < size
    ]
    step = sign_every or size
    for start in range(0, size, step):
        log.append(connection, tenant_id, leaves[start : start + step], 1)
        if keyring is not None:
            publish_checkpoint(
                connection, tenant_id, [keyring.active_signer(connection, tenant_id)], 2
            )
