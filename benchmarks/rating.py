"""Rating benchmark: a month's charges for every account, and the live preview of one.

The store: 10,000 accounts on contracts of every usage price model, and 10,000,000 usage events
in November 2026 (Zipf-like accounts, three event types, three meters). The contracts go in
through `registry.apply_contract` (the ledger included); the events and their hourly rollups are
loaded with SQL, so that setting up ten million events takes minutes, not the hours of ingest.
Their leaves are numbered after the contracts' but not hashed into tiles (benchmarks/ledger.py
measures that). A sample of accounts is folded again through the real `fold` to check that the
SQL-built rollups are what ingest would have written.

Figures, each beside its baseline in the same run:
- the month-end run: `service.rate_accounts` for all accounts, from the rollups (goal <= 10 s),
  against a straightforward recomputation from the raw events (one scan of the month's events,
  parsed and aggregated in Python, then the same `rate`); both must give the same bytes;
- the live preview of one account (`service.preview`, period to date and projection): p95 over
  random accounts (goal <= 50 ms);
- how fast contracts are applied (validated, checked, on the ledger), for information.

    .venv/bin/python benchmarks/rating.py                      # 10M events, 10k accounts
    .venv/bin/python benchmarks/rating.py --events 1000000     # a quicker run
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from ingest import SCRATCH, Row, machine, peak_rss_kib, percentile, print_table, say
from sqlalchemy import Engine

from valueproof.contracts.inputs import MeterUsage, RatingInput
from valueproof.contracts.rating import charges_bytes, rate
from valueproof.contracts.registry import apply_contract, in_force, tenant_versions
from valueproof.contracts.service import preview, rate_accounts
from valueproof.contracts.validation import compile_contract, parse_contract
from valueproof.ledger import log as ledger_log
from valueproof.metering import sums
from valueproof.metering.aggregations import FoldInput, fold
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.quantities import from_micros
from valueproof.metering.registry import apply_event_type, apply_meter, load_catalog
from valueproof.metering.rollups import by_month
from valueproof.metering.totals import GroupTotal
from valueproof.periods import MICROS_PER_HOUR, billing_period_at, to_micros
from valueproof.store import connect_engine, read, tenant_lock, upgrade, write
from valueproof.tenancy.tables import accounts
from valueproof.tenancy.tenants import create_tenant

MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 12, 1, tzinfo=UTC)
AT = datetime(2026, 11, 30, 12, tzinfo=UTC)  # November; previews are taken at this instant
REGIONS = ("eu-west", "us-east", "ap-south")
MODELS = ("small", "medium", "large")

EVENT_TYPES = [
    EventType(key="api_call", properties={"region": {"type": "string", "required": True}}),
    EventType(
        key="llm_tokens",
        properties={
            "model": {"type": "string", "required": True},
            "tokens": {"type": "integer", "required": True},
        },
    ),
    EventType(key="payment", properties={"amount": {"type": "number", "required": True}}),
]
METERS = [
    Meter(key="api_calls", event_type="api_call", aggregation="count", group_by=["region"]),
    Meter(
        key="tokens",
        event_type="llm_tokens",
        aggregation="sum",
        value_property="tokens",
        group_by=["model"],
    ),
    Meter(key="payments", event_type="payment", aggregation="sum", value_property="amount"),
]
TYPE_KEYS = ("api_call", "llm_tokens", "payment")
TYPE_SHARES = (0.6, 0.3, 0.1)


# --- the contracts -------------------------------------------------------------------------------


def contract_for(index: int, name: str) -> dict[str, Any]:
    """One of five contract shapes, in turn: every usage price model, commitments, discounts,
    a CEL filter, an invoice maximum and (one account in fifty) prepaid credits."""
    base: dict[str, Any] = {
        "contract": f"{name}-2026",
        "account": name,
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
    }
    tiers = [
        {"up_to": 500, "unit_price": "0.004"},
        {"up_to": 5000, "unit_price": "0.003"},
        {"up_to": None, "unit_price": "0.002"},
    ]
    shape = index % 5
    if shape == 0:
        components = [
            {"id": "platform", "type": "flat", "amount": "499.00"},
            {"id": "api", "type": "graduated", "meter": "api_calls", "tiers": tiers},
            {"id": "minimum", "type": "commitment", "minimum": "50.00"},
        ]
    elif shape == 1:
        components = [
            {
                "id": "eu_api",
                "type": "per_unit",
                "meter": "api_calls",
                "unit_price": "0.0025",
                "filter": 'group.region == "eu-west"',
            },
            {
                "id": "tokens",
                "type": "volume",
                "meter": "tokens",
                "tiers": [
                    {"up_to": 100000, "unit_price": "0.00002"},
                    {"up_to": None, "unit_price": "0.000015"},
                ],
            },
        ]
        base["discounts"] = [{"id": "launch", "percent": 10}]
    elif shape == 2:
        components = [
            {
                "id": "api",
                "type": "package",
                "meter": "api_calls",
                "package_size": 1000,
                "package_price": "2.50",
                "free_units": 100,
            },
            {
                "id": "fees",
                "type": "percentage",
                "meter": "payments",
                "percent": "2.9",
                "fixed_fee": "0.30",
            },
        ]
    elif shape == 3:
        components = [
            {
                "id": "fees",
                "type": "graduated_percentage",
                "meter": "payments",
                "tiers": [{"up_to": 10000, "percent": 3}, {"up_to": None, "percent": 2}],
            },
            {"id": "tokens", "type": "per_unit", "meter": "tokens", "unit_price": "0.00001"},
        ]
        base["invoice_maximum"] = "5000.00"
    else:
        components = [
            {"id": "platform", "type": "flat", "amount": "99.00", "when": "usage.api_calls > 10.0"},
            {"id": "api", "type": "graduated", "meter": "api_calls", "tiers": tiers},
            {"id": "tokens", "type": "per_unit", "meter": "tokens", "unit_price": "0.00001"},
        ]
        if index % 50 == 4:
            components.append(
                {
                    "id": "wallet",
                    "type": "prepaid_credits",
                    "grants": [{"id": "prepaid", "amount": "1000.00", "granted": "2026-01-01"}],
                }
            )
    return {**base, "components": components}


# --- the store -----------------------------------------------------------------------------------


class Store:
    """The benchmark's database and the ids it needs."""

    def __init__(self, path: Path, accounts_count: int) -> None:
        self.path = path
        self.engine: Engine = connect_engine(f"sqlite:///{path}")
        upgrade(self.engine)
        with write(self.engine) as connection:
            self.tenant_id = create_tenant(connection, "rating").id
            for event_type in EVENT_TYPES:
                apply_event_type(connection, self.tenant_id, event_type)
            for meter in METERS:
                apply_meter(connection, self.tenant_id, meter)
            connection.execute(
                accounts.insert(),
                [
                    {
                        "tenant_id": self.tenant_id,
                        "external_id": name,
                        "name": name,
                        "attributes": "{}",
                        "created_us": 0,
                        "updated_us": 0,
                    }
                    for name in account_names(accounts_count)
                ],
            )
            catalog = load_catalog(connection, self.tenant_id)
        self.meter_ids = {key: c.id for key, c in catalog.meters_by_key.items()}
        with read(self.engine) as connection:
            rows = connection.execute(
                accounts.select().where(accounts.c.tenant_id == self.tenant_id)
            ).all()
        self.account_ids = {row.external_id: row.id for row in rows}


def account_names(count: int) -> list[str]:
    return [f"acct-{i:05d}" for i in range(count)]


def apply_contracts(store: Store) -> float:
    """Every account's contract through the real apply (validation, catalogue, ledger)."""
    started = time.perf_counter()
    names = sorted(store.account_ids)
    for offset in range(0, len(names), 500):
        with write(store.engine) as connection:
            tenant_lock(connection, store.tenant_id)
            catalog = load_catalog(connection, store.tenant_id)
            for index in range(offset, min(offset + 500, len(names))):
                document = parse_contract(contract_for(index, names[index]))
                apply_contract(connection, store.tenant_id, document, catalog, 1)
    return time.perf_counter() - started


def event_rows(
    store: Store, count: int, first_leaf: int, seed: int, chunk: int = 200_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The month's events as rows of the events table, in chunks."""
    rng = np.random.default_rng(seed)
    ids = np.array([store.account_ids[name] for name in sorted(store.account_ids)])
    weights = 1.0 / np.arange(1, len(ids) + 1) ** 0.7
    weights /= weights.sum()
    start_us, span_us = to_micros(MONTH_START), to_micros(MONTH_END) - to_micros(MONTH_START)
    region_json = [orjson.dumps({"region": r}).decode() for r in REGIONS]
    digest = b"\0" * 32
    made = 0
    while made < count:
        size = min(chunk, count - made)
        who = ids[rng.choice(len(ids), size=size, p=weights)]
        kinds = rng.choice(3, size=size, p=TYPE_SHARES)
        stamps = np.sort(start_us + rng.integers(0, span_us, size=size))
        picks = rng.integers(0, 3, size=size)
        tokens = rng.integers(1, 4000, size=size)
        cents = rng.integers(100, 50_000, size=size)
        rows = []
        for i in range(size):
            seq = made + i + 1
            kind = int(kinds[i])
            if kind == 0:
                properties = region_json[picks[i]]
            elif kind == 1:
                properties = f'{{"model":"{MODELS[picks[i]]}","tokens":{int(tokens[i])}}}'
            else:
                properties = f'{{"amount":{int(cents[i]) / 100:.2f}}}'
            rows.append(
                (
                    seq,
                    store.tenant_id,
                    f"e{seq}",
                    int(who[i]),
                    TYPE_KEYS[kind],
                    int(stamps[i]),
                    properties,
                    None,
                    None,
                    None,
                    None,
                    digest,
                    0,
                    first_leaf + seq - 1,
                )
            )
        made += size
        yield rows


def load_events(store: Store, count: int, seed: int) -> tuple[float, int]:
    """Insert the events with plain sqlite3 (the setup, not a figure); returns (s, first leaf)."""
    with read(store.engine) as connection:
        first_leaf = ledger_log.log_size(connection, store.tenant_id)
    started = time.perf_counter()
    connection = sqlite3.connect(store.path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    marks = ", ".join("?" * 14)
    for rows in event_rows(store, count, first_leaf, seed):
        connection.execute("BEGIN")
        connection.executemany(f"INSERT INTO events VALUES ({marks})", rows)
        connection.execute("COMMIT")
        say(f"  events: {rows[-1][0]:,}")
    connection.execute(
        "UPDATE ledger_logs SET size = ? WHERE tenant_id = ?", (first_leaf + count, store.tenant_id)
    )
    connection.close()
    return time.perf_counter() - started, first_leaf


_ROLLUP_SQL = """
INSERT INTO rollups (tenant_id, meter_id, account_id, dims, hour, event_count, sum_high,
                     sum_low, min_micros, max_micros, latest_ts_us, latest_seq, latest_micros,
                     first_leaf, last_leaf)
SELECT tenant_id, ?, account_id, {dims}, ts_us / {hour}, count(*), {total} / {word},
       {total} % {word}, {low}, {high}, NULL, NULL, NULL, min(leaf_index), max(leaf_index)
FROM events WHERE tenant_id = ? AND type = ?
GROUP BY account_id, 4, 5
"""


def build_rollups(store: Store) -> float:
    """The hourly rollups of the loaded events, by SQL, as the fold would write them."""
    value = {
        "tokens": "json_extract(properties, '$.tokens') * 1000000",
        "payments": "CAST(round(json_extract(properties, '$.amount') * 1000000) AS INTEGER)",
    }
    dims = {
        "api_calls": "'{\"region\":\"' || json_extract(properties, '$.region') || '\"}'",
        "tokens": "'{\"model\":\"' || json_extract(properties, '$.model') || '\"}'",
        "payments": "'{}'",
    }
    started = time.perf_counter()
    connection = sqlite3.connect(store.path, isolation_level=None)
    for meter in METERS:
        number = value.get(meter.key)
        sql = _ROLLUP_SQL.format(
            dims=dims[meter.key],
            hour=MICROS_PER_HOUR,
            word=sums.WORD,
            total=f"sum({number})" if number else "0",
            low=f"min({number})" if number else "NULL",
            high=f"max({number})" if number else "NULL",
        )
        connection.execute("BEGIN")
        connection.execute(sql, (store.meter_ids[meter.key], store.tenant_id, meter.event_type))
        connection.execute("COMMIT")
        say(f"  rollups: {meter.key}")
    connection.execute("BEGIN")
    connection.execute(_MONTHLY_SQL)
    connection.execute("COMMIT")
    say("  rollups: monthly")
    connection.close()
    return time.perf_counter() - started


_MONTH = (
    "CAST(strftime('%Y', hour * 3600, 'unixepoch') AS INTEGER) * 12"
    " + CAST(strftime('%m', hour * 3600, 'unixepoch') AS INTEGER) - 1"
)
_MONTHLY_SQL = f"""
INSERT INTO rollups_monthly (tenant_id, meter_id, month, account_id, dims, event_count,
                             sum_high, sum_low, min_micros, max_micros, first_leaf, last_leaf)
SELECT tenant_id, meter_id, {_MONTH}, account_id, dims, sum(event_count),
       sum(sum_high) + sum(sum_low) / {sums.WORD}, sum(sum_low) % {sums.WORD},
       min(min_micros), max(max_micros), min(first_leaf), max(last_leaf)
FROM rollups GROUP BY tenant_id, meter_id, 3, account_id, dims
"""


def check_rollups(store: Store, sample: int, seed: int) -> int:
    """Fold a sample of accounts' events through the real fold; the SQL rollups, hourly and
    monthly, must agree."""
    rng = random.Random(seed)
    chosen = rng.sample(sorted(store.account_ids.values()), sample)
    with read(store.engine) as connection:
        catalog = load_catalog(connection, store.tenant_id)
        checked = 0
        for account_id in chosen:
            rows = connection.exec_driver_sql(
                "SELECT seq, account_id, type, ts_us, properties, value_micros, leaf_index"
                " FROM events WHERE tenant_id = ? AND account_id = ?",
                (store.tenant_id, account_id),
            ).all()
            inputs = (
                FoldInput(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5], r[6]) for r in rows
            )
            buckets, _ = fold(inputs, catalog.meters_by_type)
            for table, tier in (("rollups", buckets), ("rollups_monthly", by_month(buckets))):
                column = "hour" if table == "rollups" else "month"
                for (meter_id, _account, dims, when), bucket in tier.items():
                    stored = connection.exec_driver_sql(
                        f"SELECT event_count, sum_high, sum_low, first_leaf, last_leaf FROM {table}"
                        f" WHERE tenant_id = ? AND meter_id = ? AND account_id = ?"
                        f" AND {column} = ? AND dims = ?",
                        (store.tenant_id, meter_id, account_id, when, dims),
                    ).one()
                    expected = (
                        bucket.event_count,
                        *sums.split(bucket.sum_micros),
                        bucket.first_leaf,
                        bucket.last_leaf,
                    )
                    if tuple(stored) != expected:
                        raise RuntimeError(f"{table} {meter_id}/{account_id}/{when}: {stored}")
                    checked += 1
    return checked


# --- the figures ---------------------------------------------------------------------------------


def month_end_run(store: Store) -> tuple[float, dict[str, bytes]]:
    """Every account's November charges from the rollups (the product's path), once the month
    is over."""
    started = time.perf_counter()
    with read(store.engine) as connection:
        found = {
            c.account: charges_bytes(c)
            for c in rate_accounts(connection, store.tenant_id, AT, MONTH_END)
        }
    return time.perf_counter() - started, found


def recompute_from_events(store: Store) -> tuple[float, dict[str, bytes]]:
    """The baseline: scan the month's raw events once, fold them per account, meter and group in
    Python (parse, filter, group, sum), then rate each account with the same `rate`."""
    started = time.perf_counter()
    with read(store.engine) as connection:
        catalog = load_catalog(connection, store.tenant_id)
        size = ledger_log.log_size(connection, store.tenant_id)
        histories = tenant_versions(connection, store.tenant_id)
        rows = connection.execute(accounts.select().where(accounts.c.tenant_id == store.tenant_id))
        people = {
            row.id: {
                "id": row.external_id,
                "name": row.name,
                "attributes": orjson.loads(row.attributes),
            }
            for row in rows
        }
        totals: dict[tuple[int, str, str], list[int]] = {}
        rows = connection.exec_driver_sql(
            "SELECT account_id, type, properties, value_micros, leaf_index FROM events"
            " WHERE tenant_id = ? AND ts_us >= ? AND ts_us < ?"
            " AND superseded_by IS NULL AND (correction IS NULL OR correction != 'void')",
            (store.tenant_id, to_micros(MONTH_START), to_micros(MONTH_END)),
        )
        for account_id, type_key, properties, value_micros, leaf in rows:
            props = orjson.loads(properties)
            for compiled in catalog.meters_by_type.get(type_key, ()):
                if compiled.filtered and not compiled.matches(props):
                    continue
                key = (account_id, compiled.meter.key, compiled.dims(props))
                value = 1 if compiled.counts_only else compiled.value(props, value_micros) or 0
                cell = totals.get(key)
                if cell is None:
                    totals[key] = [value, 1, leaf, leaf]
                else:
                    cell[0] += value
                    cell[1] += 1
                    cell[2] = min(cell[2], leaf)
                    cell[3] = max(cell[3], leaf)
        grouped: dict[int, dict[str, list[GroupTotal]]] = {}
        for (account_id, meter_key, dims), (value, count, first, last) in sorted(totals.items()):
            counts = catalog.meters_by_key[meter_key].counts_only
            counted = Decimal(value) if counts else from_micros(value)
            grouped.setdefault(account_id, {}).setdefault(meter_key, []).append(
                GroupTotal(dims, counted, count, first, last)
            )
        found = {}
        for account_id, history in histories.items():
            version = in_force(history, AT)
            if version is None:
                continue
            document = version.document
            billing = document.billing
            period = billing_period_at(
                document.term.start, document.term.end, billing.period, billing.anchor_day, AT
            )
            assert period is not None
            meters = grouped.get(account_id, {})
            usage = {
                key: MeterUsage(key, tuple(meters.get(key, ()))) for key in catalog.meters_by_key
            }
            inputs = RatingInput(
                period=period, usage=usage, ledger_size=size, account=people[account_id]
            )
            terms = compile_contract(document)
            found[version.account] = charges_bytes(
                rate(terms, version.version, version.leaf_index, inputs)
            )
    return time.perf_counter() - started, found


def previews(store: Store, count: int, seed: int) -> list[float]:
    """Seconds per `preview` of random accounts, each in its own read transaction."""
    rng = random.Random(seed)
    names = sorted(store.account_ids)
    timings = []
    for _ in range(count):
        name = rng.choice(names)
        started = time.perf_counter()
        with read(store.engine) as connection:
            preview(connection, store.tenant_id, name, AT)
        timings.append(time.perf_counter() - started)
    return timings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--previews", type=int, default=300)
    parser.add_argument("--check-accounts", type=int, default=20, help="accounts folded again")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    SCRATCH.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="rating-", dir=SCRATCH))
    began = time.perf_counter()
    say(f"valueproof rating benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    say(f"machine: {machine()}")
    say(f"scratch: {workdir}")
    rows: list[Row] = []
    try:
        store = Store(workdir / "rating.db", args.accounts)
        applied = apply_contracts(store)
        say(f"contracts applied: {args.accounts:,} in {applied:.1f} s")
        loaded, first_leaf = load_events(store, args.events, args.seed)
        say(f"events loaded (setup): {args.events:,} in {loaded:.0f} s, leaves from {first_leaf:,}")
        built = build_rollups(store)
        say(f"rollups built by SQL (setup): {built:.0f} s")
        checked = check_rollups(store, args.check_accounts, args.seed)
        say(
            f"rollups checked against the real fold: {checked:,} buckets"
            f" of {args.check_accounts} accounts"
        )

        fast, ours = month_end_run(store)
        say(f"month-end run from rollups: {fast:.2f} s")
        slow, theirs = recompute_from_events(store)
        say(f"recomputation from raw events: {slow:.2f} s")
        same = ours == theirs
        differing = sum(1 for name in ours if ours[name] != theirs.get(name))
        timings = previews(store, args.previews, args.seed)
        p50, p95 = percentile(timings, 0.50) * 1000, percentile(timings, 0.95) * 1000
        label = f"{args.accounts:,} accounts, {args.events:,} events"
        rows += [
            Row(
                f"month-end run, {label}",
                f"{fast:.2f} s",
                "<= 10 s",
                "met" if fast <= 10 else f"MISSED (x{fast / 10:.1f})",
            ),
            Row(
                "baseline: recomputation from raw events",
                f"{slow:.2f} s",
                f"x{slow / fast:.1f} slower than the rollups",
                "",
            ),
            Row(
                "same charges from both paths",
                f"{len(ours):,} accounts, {differing} differ",
                "byte-identical",
                "met" if same else "MISSED",
            ),
            Row(
                f"preview of one account, p95 of {args.previews}",
                f"{p95:.1f} ms (p50 {p50:.1f})",
                "<= 50 ms",
                "met" if p95 <= 50 else f"MISSED (x{p95 / 50:.1f})",
            ),
            Row(
                "contracts applied (validated, on the ledger)",
                f"{args.accounts / applied:,.0f} /s",
                "",
                "",
            ),
            Row("peak memory", f"{peak_rss_kib() / 1024:,.0f} MiB", "", ""),
        ]
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    say(f"\ntotal {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
