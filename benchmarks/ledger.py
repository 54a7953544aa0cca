"""Ledger benchmarks: durable appends, proofs at 10M leaves, and what the ledger adds to ingest.

Run from the repository root (each figure is measured beside its baseline, in the same run, on
the same machine, disk and leaves):

    # everything at the defaults, ~5 min on 2 cores:
    .venv/bin/python benchmarks/ledger.py
    # a quick run of everything, ~40 s:
    .venv/bin/python benchmarks/ledger.py --leaves 50000 --proof-leaves 500000 --ingest-events 20000
    # some figures (appends, proofs, ingest), or larger ones:
    .venv/bin/python benchmarks/ledger.py --only proofs --proof-leaves 30000000
    .venv/bin/python benchmarks/ledger.py --only appends --leaves 10000000 --peer-leaves 1000000

What it measures (the leaves are real canonical usage-event leaves, ~200 bytes, that differ by
event id and account):

1. appends: durable appends/s, `--batch` (1,000) leaves per transaction, up to `--leaves` (1M):
   ours (`valueproof.ledger.log.append` inside `write()` + `tenant_lock`, on SQLite with WAL and
   synchronous=FULL as `connect_engine` sets them), against pymerkle 7.0.0 on the same leaves,
   `--peer-leaves` of them (default: as many as ours, up to 1M): `SqliteTree.append_entries`, one
   call (one commit) per batch, once as pymerkle ships it (rollback journal; SQLite's default
   synchronous=FULL) and once with our pragmas (WAL, synchronous=FULL); and
   `InmemoryTree.append_entries` (not durable). pymerkle hashes the RFC 9162 way by default
   (SHA-256, 0x00 leaf and 0x01 node prefixes; `disable_security=True` would drop them), so the
   three trees must end on the same root, which is checked.
2. proofs: a log of `--proof-leaves` (10M) leaves is built straight into `ledger_tiles` (leaf
   hashes folded by the real `tiles.grow`, a commit per 65,536 leaves, no entry bundles: proofs
   never read them), because appending 10M leaves would take too long. Then `--proofs` (2,000)
   random inclusion proofs (size uniform in [1, n], index uniform below it) and as many
   consistency proofs (new size uniform, old size uniform below it) are generated with
   `log.inclusion_proof` / `log.consistency_proof`, each in its own `read()` transaction as an
   API request runs it, and verified with `merkle.verify_inclusion` / `verify_consistency`
   (p50 and p95, nearest rank). Beside them: the same proofs on the figure-1 log (a log of
   `--peer-leaves`, built by real appends) and pymerkle's proofs on the figure-1 trees of that
   size: `SqliteTree` reopened cold (it stores leaves only: a proof computes the subtree roots it
   needs from the leaves under them, then its LRU cache serves those of 128 leaves or more) and
   `InmemoryTree` (reads the nodes it holds).
3. ingest: the bulk ingest of `benchmarks/ingest.py` (`ingest_stream` of a JSONL file of
   `--ingest-events` events, a commit per chunk, in a spawned process and a fresh database),
   end to end: runs as shipped alternate with runs where the ledger's two steps are no-ops
   (`valueproof.ledger.log.append` returns the next leaf index, `usage_event_leaf` as
   `valueproof.metering.schema` calls it returns empty bytes), `--ingest-rounds` (2) of each,
   and the best of each is compared (runs on this VM vary by about +-15%). One more run wraps the
   two steps in timers to show where the cost goes.

Everything goes to a fresh folder under benchmarks/scratch/ (git-ignored), removed at the end
unless `--keep`; nothing is cached between runs. `--json PATH` also writes the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymerkle
from ingest import (
    SCRATCH,
    Row,
    bulk_file,
    create_database,
    machine,
    percentile,
    print_table,
    rate,
    say,
)
from sqlalchemy import Connection, Engine

from valueproof.config import settings
from valueproof.ledger import log, merkle
from valueproof.ledger.tables import ledger_logs, ledger_tiles
from valueproof.ledger.tiles import TILE_WIDTH, Tile, grow, hash_location
from valueproof.metering.formats import read_events_file
from valueproof.metering.ingest import ingest_stream
from valueproof.metering.records import usage_event_leaf
from valueproof.store import connect_engine, read, tenant_lock, upgrade, write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import create_tenant

FIGURES = ("appends", "proofs", "ingest")
ACCOUNTS = 200
BUILD_CHUNK = 1 << 16  # leaves per grow() call and per commit when building the proof log

# --- the leaves ----------------------------------------------------------------------------------


def leaf_template() -> bytes:
    """A real canonical usage-event leaf with `%d` slots for the account and the event id.

    RFC 8785 sorts keys, so the account (record.account) comes before the id (record.id).
    """

    def usage_leaf(index: int) -> bytes:
        properties = {"endpoint": "/v1/search", "region": "eu-west", "status": 200}
        account, event_id = f"acct-{index % ACCOUNTS:04d}", f"ev-{index:010d}"
        ts_us = 1_795_000_000_000_000
        return usage_event_leaf(event_id, account, "api_call", ts_us, properties, None, None, None)

    sample = usage_leaf(0)
    if b"%" in sample:
        raise RuntimeError("the sample leaf has a % sign: it cannot serve as a template")
    template = sample.replace(b"acct-0000", b"acct-%04d").replace(b"ev-0000000000", b"ev-%010d")
    index = 1_234_567
    if template % (index % ACCOUNTS, index) != usage_leaf(index):
        raise RuntimeError("the leaf template does not rebuild the canonical leaf")
    return template


def make_leaves(template: bytes, start: int, end: int) -> list[bytes]:
    return [template % (index % ACCOUNTS, index) for index in range(start, end)]


# --- shared state, results -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Log:
    """A tenant's log in a SQLite database of ours."""

    engine: Engine
    tenant_id: int
    size: int
    origin: str  # how it was built


@dataclass(slots=True)
class Run:
    """What the figures of one run share: options, the scratch folder, the trees figure 1 built."""

    args: argparse.Namespace
    workdir: Path
    template: bytes
    appended: Log | None = None  # ours, built by log.append up to --leaves
    sqlite_tree: Path | None = None  # pymerkle SqliteTree (as shipped) of --peer-leaves
    inmemory_tree: pymerkle.InmemoryTree | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def new_log(path: Path) -> tuple[Engine, int]:
    engine = connect_engine(f"sqlite:///{path}")
    upgrade(engine)
    with write(engine) as connection:
        tenant_id = create_tenant(connection, "bench").id
    return engine, tenant_id


def ms(seconds: float) -> float:
    return seconds * 1000


def latency(timings: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds, nearest rank, of timings in seconds."""
    return ms(statistics.median(timings)), ms(percentile(timings, 0.95))


def p50_p95(timings: Sequence[float], digits: int = 3) -> str:
    p50, p95 = latency(timings)
    return f"p50 {p50:.{digits}f} ms, p95 {p95:.{digits}f} ms (n={len(timings):,})"


def factor_verdict(value: float, goal: float) -> str:
    """For 'at least x goal' figures."""
    if value >= goal:
        return "met"
    return f"MISSED (x{value:.2f} against x{goal:g}; x{goal / value:.1f} to go)"


def ms_verdict(value_ms: float, goal_ms: float) -> str:
    """For 'at most goal ms' figures."""
    if value_ms <= goal_ms:
        return "met"
    return f"MISSED ({value_ms:.3g} ms against {goal_ms:g} ms; x{value_ms / goal_ms:.1f} over)"


# --- 1. durable appends ---------------------------------------------------------------------------


def append_ours(run: Run, leaves: int) -> float:
    """Seconds spent in write() + log.append + commit, a transaction per batch."""
    engine, tenant_id = new_log(run.workdir / "appends.db")
    batch, elapsed = run.args.batch, 0.0
    mark = max(leaves // 4, batch)
    for start in range(0, leaves, batch):
        entries = make_leaves(run.template, start, min(leaves, start + batch))
        started = time.perf_counter()
        with write(engine) as connection:
            tenant_lock(connection, tenant_id)
            log.append(connection, tenant_id, entries, now_us())
        elapsed += time.perf_counter() - started
        done = start + len(entries)
        if done % mark < batch or done == leaves:
            say(f"  ours: {done:,} leaves, {rate(done, elapsed):,.0f} leaves/s")
    run.appended = Log(engine, tenant_id, leaves, "figure 1's log, built by log.append")
    return elapsed


def append_sqlite_tree(run: Run, path: Path, leaves: int, our_pragmas: bool) -> float:
    """Seconds spent in SqliteTree.append_entries, one call (one commit) per batch."""
    tree = pymerkle.SqliteTree(str(path))
    if our_pragmas:
        tree.con.execute("PRAGMA journal_mode=WAL")
        tree.con.execute("PRAGMA synchronous=FULL")
    journal = tree.con.execute("PRAGMA journal_mode").fetchone()
    synchronous = tree.con.execute("PRAGMA synchronous").fetchone()
    label = f"SqliteTree (journal_mode={journal}, synchronous={synchronous})"
    batch, elapsed = run.args.batch, 0.0
    for start in range(0, leaves, batch):
        entries = make_leaves(run.template, start, min(leaves, start + batch))
        started = time.perf_counter()
        tree.append_entries(entries)
        elapsed += time.perf_counter() - started
    tree.close()
    say(f"  pymerkle {label}: {leaves:,} leaves, {rate(leaves, elapsed):,.0f} leaves/s")
    return elapsed


def append_inmemory_tree(run: Run, leaves: int) -> float:
    tree = pymerkle.InmemoryTree()
    batch, elapsed = run.args.batch, 0.0
    for start in range(0, leaves, batch):
        entries = make_leaves(run.template, start, min(leaves, start + batch))
        started = time.perf_counter()
        tree.append_entries(entries)
        elapsed += time.perf_counter() - started
    run.inmemory_tree = tree
    say(f"  pymerkle InmemoryTree: {leaves:,} leaves, {rate(leaves, elapsed):,.0f} leaves/s")
    return elapsed


def same_roots(run: Run, size: int) -> str:
    """Our root at `size` against both pymerkle trees' (their hashing is RFC 9162's)."""
    assert run.appended is not None and run.sqlite_tree is not None
    assert run.inmemory_tree is not None
    with read(run.appended.engine) as connection:
        ours = log.root_at(connection, run.appended.tenant_id, size)
    with pymerkle.SqliteTree(str(run.sqlite_tree)) as tree:
        theirs = {tree.get_root(size), run.inmemory_tree.get_root(size)}
    if theirs != {ours}:
        raise RuntimeError(f"roots differ at size {size}: ours {ours.hex()}, pymerkle {theirs}")
    return ours.hex()


def run_appends(run: Run) -> list[Row]:
    say("\n== 1. durable appends ==")
    args = run.args
    leaves, peer = args.leaves, args.peer_leaves
    if peer > leaves:
        raise SystemExit("--peer-leaves cannot exceed --leaves (the root check compares prefixes)")
    ours_s = append_ours(run, leaves)
    run.sqlite_tree = run.workdir / "pymerkle-shipped.db"
    shipped_s = append_sqlite_tree(run, run.sqlite_tree, peer, our_pragmas=False)
    wal_s = append_sqlite_tree(run, run.workdir / "pymerkle-wal.db", peer, our_pragmas=True)
    inmemory_s = append_inmemory_tree(run, peer)
    root = same_roots(run, peer)
    say(f"  the three trees agree on the root of their first {peer:,} leaves: {root[:16]}...")
    ours, shipped, wal, inmemory = (
        rate(leaves, ours_s),
        rate(peer, shipped_s),
        rate(peer, wal_s),
        rate(peer, inmemory_s),
    )
    run.metrics["appends"] = {
        "batch": args.batch,
        "ours": {"leaves": leaves, "seconds": ours_s, "per_s": ours},
        "sqlite_tree_shipped": {"leaves": peer, "seconds": shipped_s, "per_s": shipped},
        "sqlite_tree_wal": {"leaves": peer, "seconds": wal_s, "per_s": wal},
        "inmemory_tree": {"leaves": peer, "seconds": inmemory_s, "per_s": inmemory},
        "root": root,
    }
    prefix = "" if peer == leaves else f" (first {peer:,} leaves only: see --peer-leaves)"
    batch = f"{args.batch:,} leaves per commit"
    return [
        Row(
            f"durable appends, ours: log.append, {batch}, WAL + synchronous=FULL",
            f"{ours:,.0f} leaves/s ({leaves:,} leaves in {ours_s:.1f} s)",
        ),
        Row(
            f"pymerkle SqliteTree.append_entries as shipped, {batch} (rollback journal, FULL)",
            f"{shipped:,.0f} leaves/s ({peer:,} leaves in {shipped_s:.1f} s){prefix}",
        ),
        Row(
            f"pymerkle SqliteTree.append_entries with our pragmas, {batch} (WAL, FULL)",
            f"{wal:,.0f} leaves/s ({peer:,} leaves in {wal_s:.1f} s){prefix}",
        ),
        Row(
            f"pymerkle InmemoryTree.append_entries, {args.batch:,} per call (not durable)",
            f"{inmemory:,.0f} leaves/s ({peer:,} leaves in {inmemory_s:.1f} s){prefix}",
        ),
        Row(
            "ours / SqliteTree as shipped",
            f"x{ours / shipped:.2f}",
            ">= x5",
            factor_verdict(ours / shipped, 5),
        ),
        Row(
            "ours / SqliteTree with our pragmas",
            f"x{ours / wal:.2f}",
            ">= x5",
            factor_verdict(ours / wal, 5),
        ),
        Row(
            "ours / InmemoryTree",
            f"x{ours / inmemory:.2f}",
            ">= x1",
            factor_verdict(ours / inmemory, 1),
        ),
        Row("same root, ours and both pymerkle trees", f"yes, at size {peer:,} ({root[:16]}...)"),
    ]


# --- 2. proofs -----------------------------------------------------------------------------------


def build_tiles(run: Run, path: Path, leaves: int) -> Log:
    """A log of `leaves` leaves written straight as tiles: real leaf hashes, real tiles.grow."""
    engine, tenant_id = new_log(path)
    partial: dict[tuple[int, int], Tile] = {}

    def load(level: int, index: int) -> Tile:
        return partial[(level, index)]

    def row(key: tuple[int, int], tile: Tile) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "tile_level": key[0],
            "tile_index": key[1],
            "width": tile.width,
            "hashes": tile.pack(),
        }

    started, mark = time.perf_counter(), max(leaves // 5, 1)
    for start in range(0, leaves, BUILD_CHUNK):
        end = min(leaves, start + BUILD_CHUNK)
        hashes = [merkle.leaf_hash(entry) for entry in make_leaves(run.template, start, end)]
        rows = []
        for key, tile in grow(start, hashes, load).items():
            if tile.width == TILE_WIDTH:  # a full tile never changes again
                partial.pop(key, None)
                rows.append(row(key, tile))
            else:
                partial[key] = tile
        with write(engine) as connection:
            connection.execute(ledger_tiles.insert(), rows)
        if end // mark != start // mark or end == leaves:
            took = time.perf_counter() - started
            say(f"  built {end:,} leaves ({end / leaves:.0%}) in {took:.0f} s")
    with write(engine) as connection:
        if partial:
            connection.execute(ledger_tiles.insert(), [row(k, t) for k, t in partial.items()])
        connection.execute(
            ledger_logs.insert().values(tenant_id=tenant_id, size=leaves, updated_us=now_us())
        )
    return Log(engine, tenant_id, leaves, "written as tiles")


def point_reader(connection: Connection, tenant_id: int) -> merkle.HashReader:
    """Stored hashes read with one primary-key lookup per tile (a diagnostic, not log.py's path)."""

    def read_hashes(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        blobs: dict[tuple[int, int], tuple[int, bytes]] = {}
        hashes = []
        for level, index in coordinates:
            tile_level, tile_index, inner, position = hash_location(level, index)
            key = (tile_level, tile_index)
            if key not in blobs:
                found = connection.exec_driver_sql(
                    "SELECT width, hashes FROM ledger_tiles "
                    "WHERE tenant_id = ? AND tile_level = ? AND tile_index = ?",
                    (tenant_id, tile_level, tile_index),
                ).one()
                blobs[key] = (found[0], bytes(found[1]))
            width, blob = blobs[key]
            offset = sum(width >> below for below in range(inner)) + position
            hashes.append(blob[offset * merkle.HASH_SIZE : (offset + 1) * merkle.HASH_SIZE])
        return hashes

    return read_hashes


@dataclass(frozen=True, slots=True)
class Challenges:
    """Random (index, size) and (old, new) pairs over a tree of `size` leaves."""

    inclusion: list[tuple[int, int]]
    consistency: list[tuple[int, int]]

    @classmethod
    def draw(cls, size: int, count: int, seed: int) -> Challenges:
        rng = random.Random(seed)
        inclusion = []
        for _ in range(count):
            tree = rng.randint(1, size)
            inclusion.append((rng.randrange(tree), tree))
        consistency = []
        for _ in range(count):
            new = rng.randint(2, size)
            consistency.append((rng.randint(1, new - 1), new))
        return cls(inclusion, consistency)


@dataclass(slots=True)
class ProofTimes:
    """Seconds per proof generated and verified."""

    inclusion: list[float] = field(default_factory=list)
    consistency: list[float] = field(default_factory=list)
    verify_inclusion: list[float] = field(default_factory=list)
    verify_consistency: list[float] = field(default_factory=list)
    first: float | None = None  # the first proof after opening the tree, when it differs


def ours_proofs(ledger: Log, challenges: Challenges, template: bytes, verify: bool) -> ProofTimes:
    """log.inclusion_proof / consistency_proof, each in its own read transaction; verification."""
    engine, tenant_id = ledger.engine, ledger.tenant_id
    times = ProofTimes()
    for index, size in challenges.inclusion[:5]:  # warm the pool and the statement cache
        with read(engine) as connection:
            log.inclusion_proof(connection, tenant_id, index, size)
    inclusion, consistency = [], []
    for index, size in challenges.inclusion:
        started = time.perf_counter()
        with read(engine) as connection:
            proof = log.inclusion_proof(connection, tenant_id, index, size)
        times.inclusion.append(time.perf_counter() - started)
        inclusion.append(proof)
    for old, new in challenges.consistency:
        started = time.perf_counter()
        with read(engine) as connection:
            proof = log.consistency_proof(connection, tenant_id, old, new)
        times.consistency.append(time.perf_counter() - started)
        consistency.append(proof)
    if not verify:
        return times
    roots = checked_roots(ledger, challenges)
    for (index, size), proof in zip(challenges.inclusion, inclusion, strict=True):
        hashed = merkle.leaf_hash(template % (index % ACCOUNTS, index))
        root = roots[size]
        started = time.perf_counter()
        merkle.verify_inclusion(hashed, index, size, proof, root)
        times.verify_inclusion.append(time.perf_counter() - started)
    for (old, new), proof in zip(challenges.consistency, consistency, strict=True):
        old_root, new_root = roots[old], roots[new]
        started = time.perf_counter()
        merkle.verify_consistency(old, new, old_root, new_root, proof)
        times.verify_consistency.append(time.perf_counter() - started)
    return times


def checked_roots(ledger: Log, challenges: Challenges) -> dict[int, bytes]:
    """The root at every size the challenges name (the checkpoints a verifier would hold).

    Read with point lookups, which is quicker; a handful, spread over the sizes, are checked
    against log.root_at.
    """
    sizes = sorted(
        {size for _, size in challenges.inclusion}
        | {size for pair in challenges.consistency for size in pair}
    )
    with read(ledger.engine) as connection:
        reader = point_reader(connection, ledger.tenant_id)
        roots = {size: merkle.tree_hash(size, reader) for size in sizes}
        for size in sizes[:: max(1, len(sizes) // 5)]:
            if log.root_at(connection, ledger.tenant_id, size) != roots[size]:
                raise RuntimeError(f"root_at({size}) differs from the tiles' root")
    return roots


def point_lookup_proofs(ledger: Log, challenges: Challenges) -> ProofTimes:
    """The same proofs through merkle.*_proof with point_reader: what log.py's read could cost.

    The first few are checked to be the proofs log.py gives (after the clock stops).
    """
    engine, tenant_id = ledger.engine, ledger.tenant_id
    times = ProofTimes()
    for number, (index, size) in enumerate(challenges.inclusion):
        started = time.perf_counter()
        with read(engine) as connection:
            log.log_size(connection, tenant_id)  # log.py checks the size too
            proof = merkle.inclusion_proof(index, size, point_reader(connection, tenant_id))
        times.inclusion.append(time.perf_counter() - started)
        if number < 20:
            with read(engine) as connection:
                if proof != log.inclusion_proof(connection, tenant_id, index, size):
                    raise RuntimeError(f"point lookups gave another proof of {index} in {size}")
    for number, (old, new) in enumerate(challenges.consistency):
        started = time.perf_counter()
        with read(engine) as connection:
            log.log_size(connection, tenant_id)
            proof = merkle.consistency_proof(old, new, point_reader(connection, tenant_id))
        times.consistency.append(time.perf_counter() - started)
        if number < 20:
            with read(engine) as connection:
                if proof != log.consistency_proof(connection, tenant_id, old, new):
                    raise RuntimeError(f"point lookups gave another proof from {old} to {new}")
    return times


def pymerkle_proofs(
    tree: pymerkle.BaseMerkleTree, challenges: Challenges, template: bytes
) -> ProofTimes:
    """prove_inclusion / prove_consistency (pymerkle counts leaves from 1), then verification."""
    times = ProofTimes()
    index, size = challenges.inclusion[0]
    started = time.perf_counter()
    tree.prove_inclusion(index + 1, size)
    times.first = time.perf_counter() - started
    inclusion, consistency = [], []
    for index, size in challenges.inclusion:
        started = time.perf_counter()
        inclusion.append(tree.prove_inclusion(index + 1, size))
        times.inclusion.append(time.perf_counter() - started)
    for old, new in challenges.consistency:
        started = time.perf_counter()
        consistency.append(tree.prove_consistency(old, new))
        times.consistency.append(time.perf_counter() - started)
    for (index, size), proof in zip(challenges.inclusion, inclusion, strict=True):
        hashed = merkle.leaf_hash(template % (index % ACCOUNTS, index))
        root = tree.get_root(size)
        started = time.perf_counter()
        pymerkle.verify_inclusion(hashed, root, proof)
        times.verify_inclusion.append(time.perf_counter() - started)
    for (old, new), proof in zip(challenges.consistency, consistency, strict=True):
        old_root, new_root = tree.get_root(old), tree.get_root(new)
        started = time.perf_counter()
        pymerkle.verify_consistency(old_root, new_root, proof)
        times.verify_consistency.append(time.perf_counter() - started)
    return times


def peer_trees(run: Run) -> tuple[Log, Path, pymerkle.InmemoryTree]:
    """Figure 1's trees of --peer-leaves leaves, or the same built now when it did not run."""
    size = run.args.peer_leaves
    if run.appended is None or run.sqlite_tree is None or run.inmemory_tree is None:
        say(f"  (figure 1 did not run: building the {size:,}-leaf trees to compare with)")
        run.appended = build_tiles(run, run.workdir / "peer-ours.db", size)
        run.sqlite_tree = run.workdir / "pymerkle-shipped.db"
        append_sqlite_tree(run, run.sqlite_tree, size, our_pragmas=False)
        append_inmemory_tree(run, size)
    assert run.inmemory_tree is not None
    return run.appended, run.sqlite_tree, run.inmemory_tree


def proof_metrics(times: ProofTimes) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name in ("inclusion", "consistency", "verify_inclusion", "verify_consistency"):
        timings = getattr(times, name)
        if timings:
            p50, p95 = latency(timings)
            figures[name] = {"p50_ms": p50, "p95_ms": p95, "n": len(timings)}
    if times.first is not None:
        figures["first_ms"] = ms(times.first)
    return figures


def run_proofs(run: Run) -> list[Row]:
    say("\n== 2. proofs ==")
    args = run.args
    leaves, count = args.proof_leaves, args.proofs
    started = time.perf_counter()
    big = build_tiles(run, run.workdir / "proofs.db", leaves)
    built_s = time.perf_counter() - started
    db_mib = (run.workdir / "proofs.db").stat().st_size / 2**20
    say(f"  {leaves:,}-leaf log built in {built_s:.0f} s ({db_mib:,.0f} MiB)")
    challenges = Challenges.draw(leaves, count, args.seed)
    ours = ours_proofs(big, challenges, run.template, verify=True)
    say(f"  ours at {leaves:,}: inclusion {p50_p95(ours.inclusion)}")
    say(f"  ours at {leaves:,}: consistency {p50_p95(ours.consistency)}")
    say(f"  ours: verify inclusion {p50_p95(ours.verify_inclusion, 4)}")
    say(f"  ours: verify consistency {p50_p95(ours.verify_consistency, 4)}")
    points = point_lookup_proofs(big, challenges)
    say(f"  point lookups at {leaves:,}: inclusion {p50_p95(points.inclusion)}")
    big.engine.dispose()

    appended, sqlite_path, inmemory = peer_trees(run)
    size = args.peer_leaves  # ours may hold more: its proofs are drawn over the same prefix
    small = Challenges.draw(size, args.peer_proofs, args.seed + 1)
    ours_small = ours_proofs(appended, small, run.template, verify=False)
    say(f"  ours at {size:,}: inclusion {p50_p95(ours_small.inclusion)}")
    with pymerkle.SqliteTree(str(sqlite_path)) as tree:
        sqlite_tree = pymerkle_proofs(tree, small, run.template)
    assert sqlite_tree.first is not None
    first = f"first proof {ms(sqlite_tree.first):,.0f} ms (cold cache)"
    say(f"  SqliteTree: {first}, then inclusion {p50_p95(sqlite_tree.inclusion)}")
    in_memory = pymerkle_proofs(inmemory, small, run.template)
    say(f"  InmemoryTree: inclusion {p50_p95(in_memory.inclusion)}")
    run.metrics["proofs"] = {
        "leaves": leaves,
        "build_s": built_s,
        "db_mib": db_mib,
        "ours": proof_metrics(ours),
        "point_lookups": proof_metrics(points),
        "peer_leaves": size,
        "ours_at_peer_size": proof_metrics(ours_small),
        "sqlite_tree": proof_metrics(sqlite_tree),
        "inmemory_tree": proof_metrics(in_memory),
    }

    at = f"{leaves:,} leaves"
    generation = (("inclusion", ours.inclusion), ("consistency", ours.consistency))
    verification = (
        ("inclusion", ours.verify_inclusion),
        ("consistency", ours.verify_consistency),
    )
    rows = [
        Row(
            f"log of {at}, written as tiles (leaf hashes + tiles.grow)",
            f"built in {built_s:.0f} s, {db_mib:,.0f} MiB",
        )
    ]
    for name, times in generation:
        rows.append(
            Row(
                f"{name} proof generation, ours (log.{name}_proof, own read transaction), {at}",
                p50_p95(times),
                "p95 <= 1 ms",
                ms_verdict(latency(times)[1], 1.0),
            )
        )
    for name, times in verification:
        rows.append(
            Row(
                f"{name} proof verification, ours (merkle.verify_{name}), {at}",
                p50_p95(times, 4),
                "p95 <= 0.1 ms",
                ms_verdict(latency(times)[1], 0.1),
            )
        )
    rows += [
        Row(
            f"diagnostic: inclusion proof generation, a point lookup per tile, {at}",
            p50_p95(points.inclusion),
        ),
        Row(
            f"diagnostic: consistency proof generation, a point lookup per tile, {at}",
            p50_p95(points.consistency),
        ),
        Row(
            f"inclusion proof generation, ours, {size:,} leaves ({appended.origin})",
            p50_p95(ours_small.inclusion),
        ),
        Row(
            f"consistency proof generation, ours, {size:,} leaves ({appended.origin})",
            p50_p95(ours_small.consistency),
        ),
        Row(
            f"pymerkle SqliteTree, {size:,} leaves: first proof after opening (cold cache)",
            f"{ms(sqlite_tree.first):,.0f} ms",
        ),
    ]
    for label, times in (("SqliteTree", sqlite_tree), ("InmemoryTree", in_memory)):
        rows += [
            Row(
                f"pymerkle {label}, {size:,} leaves: prove_inclusion (after the first)",
                p50_p95(times.inclusion),
            ),
            Row(
                f"pymerkle {label}, {size:,} leaves: prove_consistency",
                p50_p95(times.consistency),
            ),
        ]
    rows += [
        Row(
            f"pymerkle verify_inclusion, {size:,} leaves",
            p50_p95(sqlite_tree.verify_inclusion, 4),
        ),
        Row(
            f"pymerkle verify_consistency, {size:,} leaves",
            p50_p95(sqlite_tree.verify_consistency, 4),
        ),
    ]
    return rows


# --- 3. the ledger's share of bulk ingest ---------------------------------------------------------


def ingest_in_child(url: str, tenant_id: int, path: str, chunk: int, mode: str) -> dict[str, float]:
    """Run in a fresh process: the bulk ingest as it is (`plain`), with the ledger's two steps
    timed (`timed`), or with them stubbed out (`stubbed`).

    ingest.py calls `ledger_log.append` through the module and schema.py calls the
    `usage_event_leaf` it imported, so those two attributes are the ones to replace.
    """
    from valueproof.ledger import log as ledger_log
    from valueproof.metering import schema

    spent = {"append": 0.0, "leaf": 0.0}
    original_append, original_leaf = ledger_log.append, schema.usage_event_leaf

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    if mode == "stubbed":
        next_leaf = [0]

        def no_append(
            _connection: Any, _tenant_id: int, entries: Sequence[bytes], _now: int
        ) -> int:
            first = next_leaf[0]
            next_leaf[0] += len(entries)
            return first

        ledger_log.append = no_append  # type: ignore[assignment]
        schema.usage_event_leaf = lambda *_args: b""  # type: ignore[assignment]
    elif mode == "timed":
        ledger_log.append = timed("append", original_append)  # type: ignore[assignment]
        schema.usage_event_leaf = timed("leaf", original_leaf)  # type: ignore[assignment]
    engine = connect_engine(url)
    started = time.perf_counter()
    summary = ingest_stream(engine, tenant_id, read_events_file(Path(path)), chunk=chunk)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"accepted": summary.accepted, "seconds": elapsed, **spent}


def ingest_once(run: Run, count: int, mode: str, attempt: int = 0) -> dict[str, float]:
    path = bulk_file(count, run.workdir, run.args.seed)
    database = create_database(run.workdir / f"ingest-{mode}-{attempt}.db", accounts=200)
    database.engine.dispose()
    job = (database.url, database.tenant_id, str(path), settings().ingest_chunk_events)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        result = child.submit(ingest_in_child, *job, mode).result()
    if result["accepted"] != count:
        raise RuntimeError(f"expected {count} events accepted, got {result['accepted']}")
    return result


def run_ingest(run: Run) -> list[Row]:
    """The ledger's cost, two ways: timed inside one run, and end to end against runs with the
    ledger stubbed out. This VM's run-to-run noise is large (+-15%), so the end-to-end figure
    alternates plain and stubbed runs and compares the best of each."""
    say("\n== 3. the ledger's share of bulk ingest ==")
    count = run.args.ingest_events
    timed = ingest_once(run, count, "timed")
    seconds, append_s, leaf_s = timed["seconds"], timed["append"], timed["leaf"]
    share = append_s + leaf_s
    overhead = share / (seconds - share)
    say(
        f"  timed: {rate(count, seconds):,.0f} events/s ({seconds:.1f} s); "
        f"log.append {append_s:.1f} s, usage_event_leaf {leaf_s:.1f} s: +{overhead:.0%}"
    )
    plain, stubbed = [], []
    for attempt in range(run.args.ingest_rounds):
        for mode, times in (("plain", plain), ("stubbed", stubbed)):
            times.append(ingest_once(run, count, mode, attempt)["seconds"])
            say(f"  {mode} run {attempt + 1}: {rate(count, times[-1]):,.0f} events/s")
    best, best_stub = min(plain), min(stubbed)
    measured = (best - best_stub) / best_stub
    run.metrics["ingest"] = {
        "events": count,
        "timed_seconds": seconds,
        "append_s": append_s,
        "leaf_s": leaf_s,
        "overhead_timed": overhead,
        "plain_seconds": plain,
        "stubbed_seconds": stubbed,
        "overhead_end_to_end": measured,
    }
    per_event = 1e6 / count
    runs = f"best of {len(plain)}"
    return [
        Row(
            f"bulk ingest with the ledger, {count:,} events (ingest_stream, chunks of "
            f"{settings().ingest_chunk_events:,}), {runs}",
            f"{rate(count, best):,.0f} events/s ({best:.1f} s)",
        ),
        Row(
            f"the same ingest with the ledger's two steps stubbed out, {runs}",
            f"{rate(count, best_stub):,.0f} events/s ({best_stub:.1f} s)",
        ),
        Row(
            "ledger overhead, end to end: with / without - 1",
            f"{measured:+.1%}",
            "< 25%",
            "met" if measured < 0.25 else f"MISSED ({measured:.0%} against 25%)",
        ),
        Row(
            "where it goes (one timed run): log.append + usage_event_leaf",
            f"{share:.2f} s = {append_s:.2f} s + {leaf_s:.2f} s "
            f"({append_s * per_event:.1f} + {leaf_s * per_event:.1f} us per event), "
            f"{overhead:.1%} of the rest",
        ),
    ]


# --- the run -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leaves", type=int, default=1_000_000, help="leaves appended (ours)")
    parser.add_argument("--batch", type=int, default=1000, help="leaves per append transaction")
    parser.add_argument(
        "--peer-leaves", type=int, help="leaves appended to pymerkle (default: --leaves, <= 1M)"
    )
    parser.add_argument("--proof-leaves", type=int, default=10_000_000, help="proof log size")
    parser.add_argument("--proofs", type=int, default=2000, help="proofs of each kind")
    parser.add_argument("--peer-proofs", type=int, help="proofs of each kind at --peer-leaves")
    parser.add_argument("--ingest-events", type=int, default=300_000, help="bulk file size")
    parser.add_argument(
        "--ingest-rounds", type=int, default=2, help="plain and stubbed ingest runs, alternated"
    )
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated figures")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures {sorted(unknown)}; choose from {', '.join(FIGURES)}")
    if args.peer_leaves is None:
        args.peer_leaves = min(args.leaves, 1_000_000)
    if args.peer_proofs is None:
        args.peer_proofs = args.proofs
    if min(args.leaves, args.peer_leaves, args.proof_leaves) < 2 or args.batch < 1:
        parser.error("the trees need at least 2 leaves and batches at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    runners = {"appends": run_appends, "proofs": run_proofs, "ingest": run_ingest}
    SCRATCH.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ledger-", dir=SCRATCH))
    started = time.perf_counter()
    when = datetime.now(UTC)
    say(f"valueproof ledger benchmark, {when:%Y-%m-%d %H:%M} UTC, pymerkle {pymerkle.__version__}")
    say(f"machine: {machine()}")
    say(f"scratch: {workdir}")
    run = Run(args, workdir, leaf_template())
    say(f"leaves: canonical usage-event leaves of {len(make_leaves(run.template, 0, 1)[0])} bytes")
    rows: list[Row] = []
    try:
        for name in args.only:
            rows.extend(runners[name](run))
    finally:
        if run.appended is not None:
            run.appended.engine.dispose()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    total = time.perf_counter() - started
    say(f"\ntotal {total:.0f} s")
    if args.json is not None:
        options = {name: value for name, value in vars(args).items() if name != "json"}
        document = {
            "date": when.isoformat(),
            "machine": machine(),
            "pymerkle": pymerkle.__version__,
            "options": options,
            "seconds": total,
            "figures": run.metrics,
            "rows": [asdict(row) for row in rows],
        }
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
        say(f"wrote {args.json}")


if __name__ == "__main__":
    main()
