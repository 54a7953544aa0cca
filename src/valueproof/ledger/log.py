"""A tenant's log in the store: the sequencer that appends leaves, and the read path for proofs.

Appends run inside the caller's transaction (which holds the tenant lock), so leaves commit or
roll back with the records they cover. Hashes live in tlog-tiles with their inner levels, so any
proof reads O(log n) stored hashes, a handful of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger import merkle
from valueproof.ledger.errors import LedgerError, TileError
from valueproof.ledger.merkle import HASH_SIZE, HashReader
from valueproof.ledger.tables import ledger_bundles, ledger_logs, ledger_tiles
from valueproof.ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileAddress,
    bundle_entries,
    decode_bundle,
    grow,
    hash_location,
)
from valueproof.store import placeholder

# SQLite parses a query's OR-ed terms as one expression, at most 1000 deep: a read of hashes
# spread over more tiles than that (a proof bundle's thousands of leaves) goes in several queries.
TILES_PER_QUERY = 256
_BUNDLES_PER_QUERY = 500

__all__ = [
    "PendingLeaves",
    "append",
    "consistency_proof",
    "entries",
    "entry",
    "hash_reader",
    "inclusion_proof",
    "log_size",
    "root_at",
    "served_tile",
]


def log_size(connection: Connection, tenant_id: int) -> int:
    """How many leaves the tenant's log holds (0 before its first append)."""
    # Plain SQL: every proof reads the size, and building a Core statement costs more than
    # running this one.
    size = connection.exec_driver_sql(
        f"SELECT size FROM ledger_logs WHERE tenant_id = {placeholder(connection)}", (tenant_id,)
    ).scalar()
    return int(size or 0)


def append(connection: Connection, tenant_id: int, entries: Sequence[bytes], now_us: int) -> int:
    """Append canonical leaves; returns the index of the first. The caller holds the tenant lock."""
    size = log_size(connection, tenant_id)
    if not entries:
        return size
    hashes = [merkle.leaf_hash(entry) for entry in entries]
    changed = grow(
        size, hashes, lambda level, index: _load_tile(connection, tenant_id, level, index)
    )
    _upsert(
        connection,
        ledger_tiles,
        ("tenant_id", "tile_level", "tile_index"),
        [
            {
                "tenant_id": tenant_id,
                "tile_level": level,
                "tile_index": index,
                "width": tile.width,
                "hashes": tile.pack(),
            }
            for (level, index), tile in changed.items()
        ],
    )
    _append_bundles(connection, tenant_id, size, entries)
    _set_size(connection, tenant_id, size, size + len(entries), now_us)
    return size


class PendingLeaves:
    """Leaves a transaction appends together at its end, each told its index when added: one
    tile update for a batch instead of one per leaf. Nothing else may append to the tenant's log
    in the same transaction before `flush` (it checks)."""

    def __init__(self, connection: Connection, tenant_id: int) -> None:
        self._connection = connection
        self._tenant_id = tenant_id
        self._start = log_size(connection, tenant_id)
        self._entries: list[bytes] = []

    def add(self, entry: bytes) -> int:
        """Queue a canonical leaf; the index it will have."""
        self._entries.append(entry)
        return self._start + len(self._entries) - 1

    def flush(self, now_us: int) -> None:
        """Append every queued leaf, in order, at the indexes `add` promised."""
        if not self._entries:
            return
        first = append(self._connection, self._tenant_id, self._entries, now_us)
        if first != self._start:
            raise LedgerError(f"leaves promised from {self._start} landed from {first}")
        self._start += len(self._entries)
        self._entries = []


def hash_reader(connection: Connection, tenant_id: int) -> HashReader:
    """Read stored hashes: one query per call, or per `TILES_PER_QUERY` tiles they span."""
    mark = placeholder(connection)
    term = f"(tenant_id = {mark} AND tile_level = {mark} AND tile_index = {mark})"

    def read(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        located = [hash_location(level, index) for level, index in coordinates]
        wanted = sorted({(tile_level, tile_index) for tile_level, tile_index, _, _ in located})
        tiles: dict[tuple[int, int], tuple[int, bytes]] = {}
        for start in range(0, len(wanted), TILES_PER_QUERY):
            chunk = wanted[start : start + TILES_PER_QUERY]
            # One primary-key term per tile, OR-ed: both SQLite and PostgreSQL seek each one. (A
            # row-value IN list made SQLite scan every tile of the tenant: proofs grew with the
            # log.)
            rows = connection.exec_driver_sql(
                "SELECT tile_level, tile_index, width, hashes FROM ledger_tiles WHERE "
                + " OR ".join([term] * len(chunk)),
                tuple(value for tile in chunk for value in (tenant_id, *tile)),
            )
            tiles.update({(level, index): (width, blob) for level, index, width, blob in rows})
        hashes = []
        for tile_level, tile_index, inner, position in located:
            width, blob = tiles.get((tile_level, tile_index), (0, b""))
            hashes.append(_stored_hash(blob, width, inner, position, (tile_level, tile_index)))
        return hashes

    return read


def root_at(connection: Connection, tenant_id: int, size: int) -> bytes:
    """The root hash of the log's first `size` leaves."""
    _check_size(connection, tenant_id, size)
    return merkle.tree_hash(size, hash_reader(connection, tenant_id))


def inclusion_proof(connection: Connection, tenant_id: int, index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves."""
    _check_size(connection, tenant_id, size)
    if not 0 <= index < size:
        raise InvalidInput("index", f"must be at least 0 and below the tree size {size}")
    return merkle.inclusion_proof(index, size, hash_reader(connection, tenant_id))


def consistency_proof(
    connection: Connection, tenant_id: int, old_size: int, new_size: int
) -> list[bytes]:
    """RFC 9162 consistency proof that the tree of old_size is a prefix of new_size's."""
    _check_size(connection, tenant_id, new_size)
    if not 0 <= old_size <= new_size:
        raise InvalidInput("from", f"must be at least 0 and at most to ({new_size})")
    return merkle.consistency_proof(old_size, new_size, hash_reader(connection, tenant_id))


def entry(connection: Connection, tenant_id: int, index: int) -> bytes:
    """The canonical leaf bytes at `index`."""
    size = log_size(connection, tenant_id)
    if not 0 <= index < size:
        raise NotFound(f"no leaf {index}: the log holds {size}")
    bundle_index, position = divmod(index, TILE_WIDTH)
    blob = connection.execute(
        select(ledger_bundles.c.entries).where(
            ledger_bundles.c.tenant_id == tenant_id,
            ledger_bundles.c.bundle_index == bundle_index,
        )
    ).scalar()
    entries = decode_bundle(blob or b"")
    if position >= len(entries):
        raise TileError(f"entry bundle {bundle_index} is missing leaf {index}")
    return entries[position]


def entries(connection: Connection, tenant_id: int, indexes: Sequence[int]) -> list[bytes]:
    """The canonical leaf bytes at each of `indexes`, reading each bundle that holds one once."""
    wanted = sorted({index // TILE_WIDTH for index in indexes})
    bundles: dict[int, list[bytes]] = {}
    for start in range(0, len(wanted), _BUNDLES_PER_QUERY):
        rows = connection.execute(
            select(ledger_bundles.c.bundle_index, ledger_bundles.c.entries).where(
                ledger_bundles.c.tenant_id == tenant_id,
                ledger_bundles.c.bundle_index.in_(wanted[start : start + _BUNDLES_PER_QUERY]),
            )
        )
        bundles.update({row[0]: decode_bundle(row[1]) for row in rows})
    found = []
    for index in indexes:
        bundle_index, position = divmod(index, TILE_WIDTH)
        held = bundles.get(bundle_index, [])
        if position >= len(held):
            raise TileError(f"entry bundle {bundle_index} is missing leaf {index}")
        found.append(held[position])
    return found


def served_tile(connection: Connection, tenant_id: int, address: TileAddress) -> bytes:
    """A hash tile or entry bundle as tlog-tiles serves it, at the width the path asks for."""
    table, key = (
        (ledger_bundles, ledger_bundles.c.bundle_index == address.index)
        if address.is_entries
        else (
            ledger_tiles,
            (ledger_tiles.c.tile_level == address.level)
            & (ledger_tiles.c.tile_index == address.index),
        )
    )
    row = connection.execute(
        select(table.c.width, table.c[("entries" if address.is_entries else "hashes")]).where(
            table.c.tenant_id == tenant_id, key
        )
    ).first()
    if row is None or row[0] < address.width:
        raise NotFound(f"{address.path}: the log has no such tile yet")
    if address.is_entries:
        return bundle_entries(decode_bundle(row[1])[: address.width])
    return bytes(row[1][: address.width * HASH_SIZE])


def _check_size(connection: Connection, tenant_id: int, size: int) -> None:
    current = log_size(connection, tenant_id)
    if not 0 <= size <= current:
        raise InvalidInput("size", f"must be at least 0 and at most the log size {current}")


def _stored_hash(
    blob: bytes, width: int, inner: int, position: int, tile: tuple[int, int]
) -> bytes:
    if position >= width >> inner:
        raise TileError(f"tile {tile[0]}/{tile[1]} has no hash at level {inner}, {position}")
    offset = _level_offsets(width)[inner] + position
    return bytes(blob[offset * HASH_SIZE : (offset + 1) * HASH_SIZE])


@cache
def _level_offsets(width: int) -> tuple[int, ...]:
    """Where each inner level starts in a stored tile of `width` base hashes (Tile.pack)."""
    starts, offset = [], 0
    for inner in range(TILE_HEIGHT):
        starts.append(offset)
        offset += width >> inner
    return tuple(starts)


def _load_tile(connection: Connection, tenant_id: int, tile_level: int, tile_index: int) -> Tile:
    row = connection.execute(
        select(ledger_tiles.c.width, ledger_tiles.c.hashes).where(
            ledger_tiles.c.tenant_id == tenant_id,
            ledger_tiles.c.tile_level == tile_level,
            ledger_tiles.c.tile_index == tile_index,
        )
    ).first()
    if row is None:
        raise TileError(f"tile {tile_level}/{tile_index} is missing from the log")
    return Tile.unpack(bytes(row.hashes), row.width)


def _append_bundles(
    connection: Connection, tenant_id: int, size: int, entries: Sequence[bytes]
) -> None:
    first_bundle, offset = divmod(size, TILE_WIDTH)
    held = b""
    if offset:
        row = connection.execute(
            select(ledger_bundles.c.width, ledger_bundles.c.entries).where(
                ledger_bundles.c.tenant_id == tenant_id,
                ledger_bundles.c.bundle_index == first_bundle,
            )
        ).first()
        if row is None or row.width != offset:
            found = 0 if row is None else row.width
            raise TileError(f"entry bundle {first_bundle} holds {found}, expected {offset}")
        held = bytes(row.entries)  # a bundle is its entries concatenated: extend it as bytes
    rows = []
    start, bundle_index, width = 0, first_bundle, offset
    while start < len(entries):
        chunk = entries[start : start + TILE_WIDTH - width]
        rows.append(
            {
                "tenant_id": tenant_id,
                "bundle_index": bundle_index,
                "width": width + len(chunk),
                "entries": held + bundle_entries(chunk),
            }
        )
        start, bundle_index, width, held = start + len(chunk), bundle_index + 1, 0, b""
    _upsert(connection, ledger_bundles, ("tenant_id", "bundle_index"), rows)


def _set_size(connection: Connection, tenant_id: int, old: int, new: int, now_us: int) -> None:
    if (
        old == 0
        and not connection.execute(
            select(ledger_logs.c.tenant_id).where(ledger_logs.c.tenant_id == tenant_id)
        ).first()
    ):
        connection.execute(
            ledger_logs.insert().values(tenant_id=tenant_id, size=new, updated_us=now_us)
        )
        return
    moved = connection.execute(
        update(ledger_logs)
        .where(ledger_logs.c.tenant_id == tenant_id, ledger_logs.c.size == old)
        .values(size=new, updated_us=now_us)
    ).rowcount
    if moved != 1:  # another writer without the tenant lock: fail the whole transaction
        raise TileError(f"the log's size changed under an append from size {old}")


def _upsert(
    connection: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, object]]
) -> None:
    """Insert rows, replacing the non-key columns of those already there."""
    if not rows:
        return
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    replaced = {name: statement.excluded[name] for name in rows[0] if name not in keys}
    connection.execute(
        statement.on_conflict_do_update(index_elements=list(keys), set_=replaced), rows
    )
