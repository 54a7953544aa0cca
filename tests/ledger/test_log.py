"""The log in the store: appends in batches, proofs from stored tiles, served tiles and bundles,
and every accepted usage event on the log in the transaction that stores it."""

from __future__ import annotations

import random

import orjson
import pytest
from sqlalchemy import Engine, select

from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger import log, merkle
from valueproof.ledger.checkpoints import open_checkpoint
from valueproof.ledger.keyring import StoredKey
from valueproof.ledger.publish import latest_checkpoint, published_checkpoints
from valueproof.ledger.tiles import TileAddress, decode_bundle
from valueproof.metering.records import usage_event_leaf
from valueproof.metering.tables import events
from valueproof.periods import parse_rfc3339, to_micros
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.tenants import Tenant

from .conftest import Ingest, call


def _append(engine: Engine, tenant_id: int, entries: list[bytes]) -> int:
    with write(engine) as connection:
        tenant_lock(connection, tenant_id)
        return log.append(connection, tenant_id, entries, 1)


def test_batched_appends_match_the_in_memory_tree(engine: Engine, tenant: Tenant) -> None:
    rng = random.Random(7)
    entries: list[bytes] = []
    sizes = []
    while len(entries) < 1400:
        batch = [f"leaf {len(entries) + i}".encode() for i in range(rng.choice([1, 3, 255, 300]))]
        assert _append(engine, tenant.id, batch) == len(entries)
        entries += batch
        sizes.append(len(entries))
    hashes = [merkle.leaf_hash(entry) for entry in entries]
    with read(engine) as connection:
        assert log.log_size(connection, tenant.id) == len(entries)
        for size in sizes:
            assert log.root_at(connection, tenant.id, size) == merkle.root_hash(hashes[:size])
        root = merkle.root_hash(hashes)
        for index in rng.sample(range(len(entries)), 40):
            proof = log.inclusion_proof(connection, tenant.id, index, len(entries))
            merkle.verify_inclusion(hashes[index], index, len(entries), proof, root)
            assert log.entry(connection, tenant.id, index) == entries[index]
        for old in sizes:
            proof = log.consistency_proof(connection, tenant.id, old, len(entries))
            merkle.verify_consistency(
                old, len(entries), merkle.root_hash(hashes[:old]), root, proof
            )


def test_served_tiles_and_bundles_are_the_tlog_tiles_bytes(engine: Engine, tenant: Tenant) -> None:
    entries = [f"entry {i}".encode() for i in range(300)]
    _append(engine, tenant.id, entries[:100])
    _append(engine, tenant.id, entries[100:])
    hashes = [merkle.leaf_hash(entry) for entry in entries]
    with read(engine) as connection:
        full = log.served_tile(connection, tenant.id, TileAddress(0, 0, 256))
        partial = log.served_tile(connection, tenant.id, TileAddress(0, 1, 44))
        shorter = log.served_tile(connection, tenant.id, TileAddress(0, 1, 10))
        upper = log.served_tile(connection, tenant.id, TileAddress(1, 0, 1))
        bundle = log.served_tile(connection, tenant.id, TileAddress(-1, 1, 44))
        with pytest.raises(NotFound):
            log.served_tile(connection, tenant.id, TileAddress(0, 1, 256))
        with pytest.raises(NotFound):
            log.served_tile(connection, tenant.id, TileAddress(0, 2, 1))
    assert full == b"".join(hashes[:256])
    assert partial == b"".join(hashes[256:300])
    assert shorter == b"".join(hashes[256:266])  # a partial tile is a prefix, forever the same
    assert upper == merkle.root_hash(hashes[:256])
    assert decode_bundle(bundle) == entries[256:]


def test_out_of_range_requests_name_the_field(engine: Engine, tenant: Tenant) -> None:
    _append(engine, tenant.id, [b"a", b"b", b"c"])
    with read(engine) as connection:
        with pytest.raises(InvalidInput) as caught:
            log.inclusion_proof(connection, tenant.id, 3, 3)
        assert caught.value.field == "index"
        with pytest.raises(InvalidInput) as caught:
            log.inclusion_proof(connection, tenant.id, 0, 4)
        assert caught.value.field == "size"
        with pytest.raises(InvalidInput) as caught:
            log.consistency_proof(connection, tenant.id, 3, 2)
        assert caught.value.field == "from"
        with pytest.raises(NotFound):
            log.entry(connection, tenant.id, 3)


def test_each_accepted_event_is_a_leaf_and_nothing_else_is(
    engine: Engine, ledgered: Tenant, ingest: Ingest
) -> None:
    first = ingest([call(1), call(2), {**call(3), "account": "nobody"}])
    again = ingest([call(2), call(4), {**call(1), "properties": {"tokens": 99}}])
    voided = ingest([{"id": "v1", "voids": "e4", **_identity(call(4))}])
    assert [r.status for r in first] == ["accepted", "accepted", "rejected"]
    assert [r.status for r in again] == ["duplicate", "accepted", "conflict"]
    assert [r.status for r in voided] == ["accepted"]
    with read(engine) as connection:
        assert log.log_size(connection, ledgered.id) == 4
        stored = connection.execute(
            select(events.c.event_id, events.c.leaf_index)
            .where(events.c.tenant_id == ledgered.id)
            .order_by(events.c.leaf_index)
        ).all()
        leaves = [log.entry(connection, ledgered.id, index) for index in range(4)]
    assert [(row.event_id, row.leaf_index) for row in stored] == [
        ("e1", 0),
        ("e2", 1),
        ("e4", 2),
        ("v1", 3),
    ]
    record = orjson.loads(leaves[0])
    assert record == {
        "type": "usage_event",
        "v": 1,
        "record": {
            "id": "e1",
            "account": "acme",
            "type": "api.call",
            "timestamp": "2026-11-01T01:00:00Z",
            "properties": {"tokens": 1},
        },
    }
    assert orjson.loads(leaves[3])["record"]["voids"] == "e4"
    # A customer holding its own copy of the event recomputes the same leaf.
    assert leaves[1] == usage_event_leaf(
        "e2", "acme", "api.call", at("2026-11-01T02:00:00Z"), {"tokens": 2}, None, None, None
    )


def test_a_checkpoint_is_signed_after_each_batch(
    engine: Engine, ledgered: Tenant, ingest: Ingest, signing_key: StoredKey
) -> None:
    ingest([call(1), call(2)])
    ingest([call(2)])  # nothing new: no new checkpoint
    ingest([call(3)])
    with read(engine) as connection:
        published = published_checkpoints(connection, ledgered.id)
        latest = latest_checkpoint(connection, ledgered.id)
        root = log.root_at(connection, ledgered.id, 3)
    assert [p.checkpoint.size for p in published] == [2, 3]
    assert latest is not None
    opened = open_checkpoint(latest.note, [signing_key.verifier])
    assert (opened.origin, opened.size, opened.root_hash) == (signing_key.verifier.name, 3, root)


def at(text: str) -> int:
    return to_micros(parse_rfc3339(text))


def _identity(event: dict[str, object]) -> dict[str, object]:
    return {key: event[key] for key in ("account", "type", "timestamp")}
