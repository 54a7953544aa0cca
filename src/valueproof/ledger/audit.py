"""The audit: recompute every leaf from the stored records and the tree from the leaves, and
compare both with the signed checkpoints, naming each way the store has been tampered with.

Domains plug their records in as `RecordSource`s; the audit streams the log once, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sqlalchemy import Connection, select

from valueproof.ledger import merkle
from valueproof.ledger.checkpoints import Checkpoint, open_checkpoint
from valueproof.ledger.errors import LedgerError
from valueproof.ledger.keyring import stored_keys
from valueproof.ledger.leaves import parse_leaf
from valueproof.ledger.log import log_size
from valueproof.ledger.notes import VerifierKey
from valueproof.ledger.publish import published_checkpoints
from valueproof.ledger.tables import ledger_bundles, ledger_tiles
from valueproof.ledger.tiles import TILE_WIDTH, Tile, decode_bundle, grow

__all__ = ["AuditReport", "Finding", "LedgeredRecord", "RecordSource", "audit"]

FindingKind = Literal[
    "edited", "deleted", "inserted", "reordered", "rewritten", "rolled_back", "forked", "corrupt"
]


class LedgeredRecord:
    """A stored record, the leaf index it claims, and its leaf rebuilt from the stored columns."""

    __slots__ = ("key", "leaf", "leaf_index")

    def __init__(self, key: str, leaf_index: int | None, leaf: bytes) -> None:
        self.key = key
        self.leaf_index = leaf_index
        self.leaf = leaf


class RecordSource(Protocol):
    """One kind of record on the log, as the domain that stores it rebuilds it."""

    record_type: str

    def key_of(self, record: dict[str, object]) -> str:
        """The record's identity (e.g. an event id) as a leaf states it."""
        ...

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored record in leaf order, unplaced ones last."""
        ...

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored record with this key, if there is one."""
        ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong, in words an auditor can act on."""

    kind: FindingKind
    message: str
    leaf_index: int | None = None
    record: str | None = None


@dataclass(slots=True)
class AuditReport:
    """What the audit checked and what it found; `ok` when it found nothing."""

    size: int
    checkpoints: int = 0
    latest_checkpoint: int | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def audit(
    connection: Connection,
    tenant_id: int,
    sources: Sequence[RecordSource],
    seen: Sequence[str] = (),
) -> AuditReport:
    """Audit a tenant's log against its records, its stored checkpoints and `seen` ones.

    `seen` are signed checkpoints kept outside the store (by the customer or a witness): the
    only defence against a log rolled back or forked together with its stored checkpoints.
    """
    size = log_size(connection, tenant_id)
    report = AuditReport(size)
    verifiers = [key.verifier for key in stored_keys(connection, tenant_id)]
    stored = _opened(
        [published.note for published in published_checkpoints(connection, tenant_id)],
        verifiers,
        "stored",
        report,
    )
    external = _opened(list(seen), verifiers, "seen", report)
    report.checkpoints = len(stored) + len(external)
    report.latest_checkpoint = max((c.size for c in stored), default=None)
    _check_sizes(stored, external, size, report)
    roots = _Replay(connection, tenant_id, size, {c.size for c in stored + external}, report)
    _check_records(connection, tenant_id, sources, roots.entries(), report)
    roots.finish()
    for checkpoint in stored + external:
        recomputed = roots.roots.get(checkpoint.size)
        if recomputed is None or recomputed == checkpoint.root_hash:
            continue
        kind: FindingKind = "rewritten" if checkpoint in stored else "forked"
        report.findings.append(
            Finding(
                kind,
                f"the first {checkpoint.size} leaves no longer hash to the root signed in the"
                f" checkpoint of size {checkpoint.size}: the log was changed after it was signed",
            )
        )
    return report


def _opened(
    notes: Sequence[str], verifiers: Sequence[VerifierKey], where: str, report: AuditReport
) -> list[Checkpoint]:
    opened = []
    for note in notes:
        try:
            opened.append(open_checkpoint(note, verifiers))
        except LedgerError as error:
            report.findings.append(
                Finding("corrupt", f"a {where} checkpoint does not verify: {error.detail}")
            )
    return opened


def _check_sizes(
    stored: list[Checkpoint], external: list[Checkpoint], size: int, report: AuditReport
) -> None:
    by_size: dict[int, set[bytes]] = {}
    for checkpoint in stored + external:
        by_size.setdefault(checkpoint.size, set()).add(checkpoint.root_hash)
        if checkpoint.size > size:
            report.findings.append(
                Finding(
                    "rolled_back",
                    f"a checkpoint of size {checkpoint.size} was signed, but the log now holds"
                    f" only {size} leaves",
                )
            )
    for checkpoint_size, roots in sorted(by_size.items()):
        if len(roots) > 1:
            report.findings.append(
                Finding(
                    "forked",
                    f"{len(roots)} checkpoints of size {checkpoint_size} sign different roots",
                )
            )


class _Replay:
    """Streams the entry bundles, rebuilds leaf hashes, tiles and roots, and checks the tiles."""

    def __init__(
        self,
        connection: Connection,
        tenant_id: int,
        size: int,
        checkpoint_sizes: set[int],
        report: AuditReport,
    ) -> None:
        self.connection, self.tenant_id, self.size, self.report = (
            connection,
            tenant_id,
            size,
            report,
        )
        self.wanted = checkpoint_sizes
        self.roots: dict[int, bytes] = {}
        if 0 in checkpoint_sizes:
            self.roots[0] = merkle.EMPTY_ROOT
        self.frontier = merkle.CompactRange()
        self.tiles: dict[tuple[int, int], Tile] = {}

    @property
    def count(self) -> int:
        """How many leaves have been replayed so far."""
        return self.frontier.size

    def entries(self) -> Iterator[tuple[int, bytes]]:
        """Each (index, entry) of the log in order; records tile and root findings on the way."""
        query = (
            select(ledger_bundles.c.bundle_index, ledger_bundles.c.entries)
            .where(ledger_bundles.c.tenant_id == self.tenant_id)
            .order_by(ledger_bundles.c.bundle_index)
        )
        with self.connection.execute(query.execution_options(yield_per=64)) as bundles:
            yield from self._replayed(bundles)

    def _replayed(self, bundles: Iterable[Any]) -> Iterator[tuple[int, bytes]]:
        for bundle_index, blob in bundles:
            try:
                entries = decode_bundle(bytes(blob))
            except LedgerError as error:
                self._corrupt(f"entry bundle {bundle_index}: {error.detail}")
                return
            first = bundle_index * TILE_WIDTH
            if first != self.count:
                self._corrupt(f"entry bundle {bundle_index} starts at {first}, not {self.count}")
                return
            entries = entries[: max(0, self.size - first)]
            hashes = [merkle.leaf_hash(entry) for entry in entries]
            self._grow(hashes)
            for offset, entry in enumerate(entries):
                yield first + offset, entry
            if self.count >= self.size:
                return

    def finish(self) -> None:
        if self.count < self.size:
            self._corrupt(f"the log holds {self.size} leaves but its bundles only {self.count}")
        for key in sorted(self.tiles):
            self._compare(key, self.tiles[key])

    def _grow(self, hashes: list[bytes]) -> None:
        changed = grow(self.count, hashes, lambda level, index: self.tiles[(level, index)])
        for hashed in hashes:
            self.frontier.append(hashed)
            if self.count in self.wanted:
                self.roots[self.count] = self.frontier.root()
        for key, tile in changed.items():
            if tile.width == TILE_WIDTH:
                self.tiles.pop(key, None)
                self._compare(key, tile)
            else:
                self.tiles[key] = tile

    def _compare(self, key: tuple[int, int], tile: Tile) -> None:
        stored = self.connection.execute(
            select(ledger_tiles.c.width, ledger_tiles.c.hashes).where(
                ledger_tiles.c.tenant_id == self.tenant_id,
                ledger_tiles.c.tile_level == key[0],
                ledger_tiles.c.tile_index == key[1],
            )
        ).first()
        if stored is None or stored.width != tile.width or bytes(stored.hashes) != tile.pack():
            self._corrupt(
                f"hash tile {key[0]}/{key[1]} does not match the leaves it is built from",
                key[1] * TILE_WIDTH if key[0] == 0 else None,
            )

    def _corrupt(self, message: str, leaf_index: int | None = None) -> None:
        self.report.findings.append(Finding("corrupt", message, leaf_index))


def _check_records(
    connection: Connection,
    tenant_id: int,
    sources: Sequence[RecordSource],
    entries: Iterator[tuple[int, bytes]],
    report: AuditReport,
) -> None:
    """Merge the log's entries with each source's records, both in leaf order."""
    by_type = {source.record_type: source for source in sources}
    cursors = {
        kind: _Cursor(source.records(connection, tenant_id)) for kind, source in by_type.items()
    }
    findings = report.findings
    for index, entry in entries:
        try:
            leaf = parse_leaf(entry)
        except LedgerError as error:
            findings.append(Finding("corrupt", f"leaf {index}: {error.detail}", index))
            continue
        source = by_type.get(leaf.record_type)
        if source is None:
            findings.append(
                Finding("corrupt", f"leaf {index} has unknown type {leaf.record_type!r}", index)
            )
            continue
        key = source.key_of(leaf.record)
        cursor = cursors[leaf.record_type]
        for stray in cursor.take_before(index):
            findings.append(_stray(stray, leaf.record_type))
        claimant = cursor.take_at(index)
        if claimant is not None and claimant.key == key:
            if claimant.leaf != entry:
                findings.append(
                    Finding(
                        "edited",
                        f"{leaf.record_type} {key!r} differs from what leaf {index} recorded",
                        index,
                        key,
                    )
                )
            continue
        if claimant is not None:
            findings.append(
                Finding(
                    "inserted",
                    f"{leaf.record_type} {claimant.key!r} claims leaf {index},"
                    f" which records {key!r}",
                    index,
                    claimant.key,
                )
            )
        elsewhere = source.find(connection, tenant_id, key)
        if elsewhere is None:
            findings.append(
                Finding(
                    "deleted",
                    f"{leaf.record_type} {key!r} recorded at leaf {index} is missing",
                    index,
                    key,
                )
            )
        else:
            findings.append(
                Finding(
                    "reordered",
                    f"{leaf.record_type} {key!r} is recorded at leaf {index} but claims"
                    f" leaf {elsewhere.leaf_index}",
                    index,
                    key,
                )
            )
    for kind, cursor in cursors.items():
        for stray in cursor.rest():
            findings.append(_stray(stray, kind))


def _stray(record: LedgeredRecord, record_type: str) -> Finding:
    where = "no leaf" if record.leaf_index is None else f"leaf {record.leaf_index}"
    return Finding(
        "inserted",
        f"{record_type} {record.key!r} claims {where}, which does not record it",
        record.leaf_index,
        record.key,
    )


class _Cursor:
    """A look-ahead over one source's records in leaf order."""

    def __init__(self, records: Iterator[LedgeredRecord]) -> None:
        self._records = records
        self._next = next(records, None)

    def take_before(self, index: int) -> Iterator[LedgeredRecord]:
        while (
            self._next is not None
            and self._next.leaf_index is not None
            and self._next.leaf_index < index
        ):
            yield self._advance()

    def take_at(self, index: int) -> LedgeredRecord | None:
        if self._next is not None and self._next.leaf_index == index:
            return self._advance()
        return None

    def rest(self) -> Iterator[LedgeredRecord]:
        while self._next is not None:
            yield self._advance()

    def _advance(self) -> LedgeredRecord:
        current = self._next
        assert current is not None
        self._next = next(self._records, None)
        return current
