"""Billing benchmark: the month-end close of 10,000 accounts over 10M events, end to end.

The store is benchmarks/rating.py's (10,000 accounts on contracts of every usage price model,
10,000,000 November events loaded with SQL and rolled up), except that the contracts start on
1 November 2026, so November is each account's one period to close. Figures, each beside its
baseline in the same run:

- the close (`billing.writes.close` at 4 December, past the 72 h grace): every account's period
  rated from one snapshot, its invoice drafted, numbered, finalized and put on the ledger, its
  webhook message written, in batches of 500 (goal <= 30 s), against rating alone
  (`contracts.service.rate_accounts`, the 8.3 s the rating benchmark records);
- a second close at the same instant, which must find nothing to do (idempotence), and how long
  that check takes.

The other billing figures are sections of their own, run after the close (or alone with `--only`):
`billing_pdf.py` (invoice PDFs per second on one core, goal >= 20/s), `billing_bundle.py` (a proof
bundle of an account with 100k events: build <= 2 s, `verify invoice` <= 5 s) and
`billing_webhooks.py` (deliveries per second, goal >= 500/s, and p99 from commit to delivery,
goal <= 2 s).

    .venv/bin/python benchmarks/billing.py                      # 10M events, 10k accounts
    .venv/bin/python benchmarks/billing.py --events 1000000     # a quicker run
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import billing_bundle
import billing_pdf
import billing_webhooks
import rating
from ingest import SCRATCH, Row, machine, peak_rss_kib, print_table, say

from valueproof.billing import writes
from valueproof.billing.invoice_store import invoice_count
from valueproof.ledger.keyring import Keyring
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.store import read

AS_OF = datetime(2026, 12, 4, tzinfo=UTC)
SECTIONS = ("close", "pdf", "bundle", "webhooks")
CLOSE_GOAL = 30.0


def november_contract(index: int, name: str) -> dict[str, Any]:
    """The rating benchmark's contract, from 1 November: one period to close."""
    document = ORIGINAL(index, name)
    return {**document, "term": {"start": "2026-11-01", "end": "2027-01-01"}}


ORIGINAL = rating.contract_for


def close_rows(args: argparse.Namespace, workdir: Path) -> list[Row]:
    """Build the store, then time rating alone and the whole close."""
    rating.contract_for = november_contract
    store = rating.Store(workdir / "billing.db", args.accounts)
    applied = rating.apply_contracts(store)
    say(f"contracts applied: {args.accounts:,} in {applied:.1f} s")
    loaded, first_leaf = rating.load_events(store, args.events, args.seed)
    say(f"events loaded (setup): {args.events:,} in {loaded:.0f} s")
    # The events' leaves are numbered but not hashed into tiles (rating.py's shortcut), so the
    # log is set back to the contracts' leaves, which are real, for the invoices to follow them.
    # The close reads no event leaf; a log of 10M leaves would add ~9 tile levels per batch.
    connection = sqlite3.connect(store.path, isolation_level=None)
    connection.execute(
        "UPDATE ledger_logs SET size = ? WHERE tenant_id = ?", (first_leaf, store.tenant_id)
    )
    connection.close()
    built = rating.build_rollups(store)
    say(f"rollups built by SQL (setup): {built:.0f} s")
    rated, charges = rating.month_end_run(store)
    say(f"rating alone: {rated:.2f} s for {len(charges):,} accounts")
    policy = CheckpointPolicy(Keyring(None))
    started = time.perf_counter()
    report = writes.close(store.engine, store.tenant_id, AS_OF, policy)
    closed = time.perf_counter() - started
    say(f"close: {closed:.2f} s, {len(report.finalized):,} invoices finalized")
    started = time.perf_counter()
    again = writes.close(store.engine, store.tenant_id, AS_OF, policy)
    rerun = time.perf_counter() - started
    with read(store.engine) as connection:
        stored = invoice_count(connection, store.tenant_id)
    label = f"{args.accounts:,} accounts, {args.events:,} events"
    return [
        Row(
            f"month-end close, {label}",
            f"{closed:.2f} s ({len(report.finalized) / closed:,.0f} invoices/s)",
            f"<= {CLOSE_GOAL:.0f} s",
            "met" if closed <= CLOSE_GOAL else f"MISSED (x{closed / CLOSE_GOAL:.1f})",
        ),
        Row(
            "baseline: rating alone (rate_accounts)",
            f"{rated:.2f} s",
            f"the close is x{closed / rated:.1f} rating",
            "",
        ),
        Row(
            "invoices: one per account, finalized",
            f"{stored:,} stored, {len(report.finalized):,} finalized",
            f"{len(charges):,}",
            "met" if stored == len(charges) == len(report.finalized) else "MISSED",
        ),
        Row(
            "second close at the same instant",
            f"{rerun:.2f} s, {len(again.finalized) + len(again.drafted)} new",
            "0 new",
            "met" if not again.finalized and not again.drafted else "MISSED",
        ),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--only", choices=SECTIONS, help="run one section")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    SCRATCH.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="billing-", dir=SCRATCH))
    began = time.perf_counter()
    say(f"valueproof billing benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    say(f"machine: {machine()}")
    if args.only in (None, "close"):
        rows: list[Row] = []
        try:
            rows += close_rows(args, workdir)
            rows.append(Row("peak memory", f"{peak_rss_kib() / 1024:,.0f} MiB", "", ""))
        finally:
            if args.keep:
                say(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        print_table(rows)
    if args.only in (None, "pdf"):
        say("")
        billing_pdf.main([])
    if args.only in (None, "bundle"):
        say("")
        billing_bundle.main([])
    if args.only in (None, "webhooks"):
        say("")
        billing_webhooks.main([])
    say(f"\ntotal {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
