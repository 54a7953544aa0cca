"""Proof bundle benchmark: an account with 100,000 events in the period, others interleaved.

The store is built through the real paths, so the log's tiles are real: every event goes
through `ingest_batch` (its leaf appended and hashed), half of them of the billed account and
half of nine others, interleaved on the log. The invoice is finalized the way the close will do
it (rate the period, number the invoice, append its leaf, sign a checkpoint).

Figures:
- building the bundle (`billing.bundles.invoice_bundle` and its JSON bytes): goal <= 2 s;
- `valueproof verify invoice BUNDLE` in-process (read the JSON, `check_bundle`): goal <= 5 s;
- the same command as a customer runs it, a fresh process, for information;
- the bundle's size, raw and gzipped, and the multiproof's hashes against separate proofs.

    .venv/bin/python benchmarks/billing_bundle.py                 # 100k events of the account
    .venv/bin/python benchmarks/billing_bundle.py --events 10000  # a quick run
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from valueproof.billing.bundles import invoice_bundle
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.invoice_check import check_bundle
from valueproof.billing.taxes import TaxProfile, TaxRate
from valueproof.contracts.registry import apply_contract
from valueproof.contracts.service import rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.ledger import log as ledger_log
from valueproof.ledger import merkle
from valueproof.ledger.keyring import Keyring, generate_key
from valueproof.ledger.leaves import leaf_bytes
from valueproof.ledger.publish import log_origin
from valueproof.ledger.writes import sign_checkpoint
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.ingest import IngestOptions, ingest_batch
from valueproof.metering.registry import apply_event_type, apply_meter, load_catalog
from valueproof.periods import to_micros
from valueproof.store import connect_engine, read, tenant_write, upgrade, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import create_tenant

NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)
CLOSED = datetime(2026, 12, 4, tzinfo=UTC)
PASSPHRASE = "benchmark passphrase, not a secret"
OTHERS = [f"other-{n}" for n in range(9)]
BUILD_GOAL, VERIFY_GOAL = 2.0, 5.0
CHUNK = 5_000

CONTRACT: dict[str, Any] = {
    "contract": "acme-2026",
    "account": "acme",
    "currency": "USD",
    "term": {"start": "2026-01-01", "end": "2027-01-01"},
    "components": [
        {"id": "platform", "type": "flat", "amount": "499.00"},
        {
            "id": "api",
            "type": "graduated",
            "meter": "calls",
            "tiers": [
                {"up_to": 10000, "unit_price": "0.004"},
                {"up_to": 50000, "unit_price": "0.003"},
                {"up_to": None, "unit_price": "0.002"},
            ],
        },
        {"id": "storage", "type": "per_unit", "meter": "gigabytes", "unit_price": "0.25"},
    ],
}


def say(text: str) -> None:
    print(text, flush=True)


def event(number: int, account: str) -> dict[str, Any]:
    """Calls in two regions and, one in ten, an upload: spread over November's hours."""
    hour = number % (29 * 24)
    stamp = f"2026-11-{1 + hour // 24:02d}T{hour % 24:02d}:{number % 60:02d}:00Z"
    if number % 10 == 0:
        return {
            "id": f"{account}-{number}",
            "account": account,
            "type": "upload",
            "timestamp": stamp,
            "properties": {"size": 0.5 + number % 7},
        }
    return {
        "id": f"{account}-{number}",
        "account": account,
        "type": "api.call",
        "timestamp": stamp,
        "properties": {"region": ("eu", "us")[number % 2]},
    }


def build_store(folder: Path, events: int) -> tuple[Any, int, Keyring, str]:
    engine = connect_engine(f"sqlite:///{folder / 'bundle.db'}")
    upgrade(engine)
    with write(engine) as connection:
        tenant = create_tenant(connection, "bundles")
        key = generate_key(
            connection, tenant.id, log_origin("bench.localhost", tenant.slug), PASSPHRASE, 1
        )
    with tenant_write(engine, tenant.id) as connection:
        apply_event_type(
            connection,
            tenant.id,
            EventType(key="api.call", properties={"region": {"type": "string"}}),
        )
        apply_event_type(
            connection,
            tenant.id,
            EventType(key="upload", properties={"size": {"type": "number", "required": True}}),
        )
        apply_meter(
            connection,
            tenant.id,
            Meter(key="calls", event_type="api.call", aggregation="count", group_by=["region"]),
        )
        apply_meter(
            connection,
            tenant.id,
            Meter(key="gigabytes", event_type="upload", aggregation="sum", value_property="size"),
        )
        for name in ["acme", *OTHERS]:
            create_account(connection, tenant.id, AccountCreate(external_id=name, name=name))
        catalog = load_catalog(connection, tenant.id)
        apply_contract(connection, tenant.id, parse_contract(CONTRACT), catalog, 1)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for number in range(events):
        batch.append(event(number, "acme"))
        batch.append(event(number, OTHERS[number % len(OTHERS)]))
        if len(batch) >= CHUNK:
            _ingest(engine, tenant.id, batch)
            batch = []
    if batch:
        _ingest(engine, tenant.id, batch)
    say(f"ingested {2 * events:,} events in {time.perf_counter() - started:.1f} s")
    return engine, tenant.id, Keyring(PASSPHRASE), key.verifier.vkey


def _ingest(engine: Any, tenant_id: int, batch: list[dict[str, Any]]) -> None:
    results = ingest_batch(engine, tenant_id, batch, IngestOptions())
    if any(r.status != "accepted" for r in results):
        raise SystemExit(
            f"ingest refused events: {[r for r in results if r.status != 'accepted'][:3]}"
        )


def finalize(engine: Any, tenant_id: int, keyring: Keyring) -> int:
    with tenant_write(engine, tenant_id) as connection:
        charges = rate_period(connection, tenant_id, "acme", NOVEMBER, CLOSED)
        customer = Customer("acme", "Acme", tax=TaxProfile((TaxRate("VAT", Decimal("0.19")),)))
        document = invoice_document(charges, customer, number="ACME-2026-000001", issued_at=CLOSED)
        index = ledger_log.append(
            connection, tenant_id, [leaf_bytes("invoice", 1, document)], to_micros(CLOSED)
        )
    sign_checkpoint(engine, tenant_id, keyring)
    return index


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events of the account")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="valueproof-bundle-") as scratch:
        folder = Path(scratch)
        engine, tenant_id, keyring, vkey = build_store(folder, args.events)
        index = finalize(engine, tenant_id, keyring)
        started, cpu = time.perf_counter(), time.process_time()
        with read(engine) as connection:
            built = invoice_bundle(connection, tenant_id, index, CLOSED)
        data = orjson.dumps(built)
        build = time.perf_counter() - started
        build_cpu = time.process_time() - cpu
        path = folder / "bundle.json"
        path.write_bytes(data)
        started, cpu = time.perf_counter(), time.process_time()
        report = check_bundle(json.loads(path.read_bytes()), [vkey])
        verify = time.perf_counter() - started
        verify_cpu = time.process_time() - cpu
        if not report.holds:
            raise SystemExit(f"the bundle did not verify: {report}")
        started = time.perf_counter()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = subprocess.run(
            [
                str(Path(sys.executable).parent / "valueproof"),
                "verify",
                "invoice",
                str(path),
                "--vkey",
                vkey,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        whole = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        whole_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        if command.returncode != 0:
            raise SystemExit(f"verify invoice exited {command.returncode}: {command.stderr}")
        size = built["proof"]["size"]
        records = len(built["records"]) + 2
        separate = records * len(merkle.inclusion_proof(0, size, lambda c: [b"\0" * 32] * len(c)))
        zipped = len(gzip.compress(data, 6))
        engine.dispose()
    say(f"\nbundle of {records:,} leaves in a log of {size:,}")
    # CPU time beside wall time: on a shared machine the wall clock measures the neighbours too.
    say(
        f"  build:   {build:.2f} s, {build_cpu:.2f} s of CPU (goal <= {BUILD_GOAL} s:"
        f" {build / BUILD_GOAL:.2f} of it, {build_cpu / BUILD_GOAL:.2f} in CPU)"
    )
    say(
        f"  verify:  {verify:.2f} s, {verify_cpu:.2f} s of CPU, in-process with the collector on"
        f" (goal <= {VERIFY_GOAL} s: {verify / VERIFY_GOAL:.2f} of it,"
        f" {verify_cpu / VERIFY_GOAL:.2f} in CPU)"
    )
    say(
        f"  verify invoice, a fresh process as a customer runs it: {whole:.2f} s,"
        f" {whole_cpu:.2f} s of CPU ({whole / VERIFY_GOAL:.2f} of the goal)"
    )
    say(f"  size:    {len(data) / 1e6:.1f} MB, {zipped / 1e6:.1f} MB gzipped")
    say(
        f"  proof:   {len(built['proof']['hashes']):,} hashes, against about {separate:,}"
        " for separate inclusion proofs"
    )


if __name__ == "__main__":
    main()
