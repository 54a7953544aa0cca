"""Proof bundles on both backends: a finalized invoice's bundle re-computes to the same lines and
totals with the vendor's key alone, holds only its own account's records, and every tampering
(a usage record, a price, a quantity, an amount, a proof hash, the signature) is caught and named.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from valueproof.billing.bundles import invoice_bundle
from valueproof.billing.errors import BundleInvalid
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.invoice_check import InvoiceReport, check_bundle
from valueproof.billing.taxes import TaxProfile, TaxRate
from valueproof.cli.main import app
from valueproof.contracts.registry import apply_contract
from valueproof.contracts.service import rate_period
from valueproof.contracts.validation import parse_contract
from valueproof.errors import Conflict
from valueproof.ledger import log as ledger_log
from valueproof.ledger.keyring import Keyring, StoredKey
from valueproof.ledger.leaves import leaf_bytes, parse_leaf
from valueproof.ledger.writes import sign_checkpoint
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.ingest import IngestOptions, ingest_batch
from valueproof.metering.registry import apply_event_type, apply_meter, load_catalog
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.disputes import open_dispute, resolve_dispute
from valueproof.periods import format_rfc3339, to_micros
from valueproof.store import read, tenant_write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)
CLOSED = datetime(2026, 12, 4, tzinfo=UTC)  # after November and its grace window
TIERS = [
    {"up_to": 10, "unit_price": "0.50"},
    {"up_to": 40, "unit_price": "0.20", "flat_fee": "1.00"},
    {"up_to": None, "unit_price": "0.10"},
]
DEFINITION: dict[str, Any] = {
    "contract": "acme-2026",
    "outcome": "qualified_lead",
    "attributes": {"ref": {"type": "string", "required": True}},
    "criteria": [],
    "dedupe_key": "claim.ref",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def contract(account: str = "acme") -> dict[str, Any]:
    """Tiers on calls, a per-unit price on a sum meter, a flat fee and a per-outcome price."""
    return {
        "contract": f"{account}-2026",
        "account": account,
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": [
            {"id": "platform", "type": "flat", "amount": "100.00"},
            {"id": "api", "type": "graduated", "meter": "calls", "tiers": TIERS},
            {"id": "storage", "type": "per_unit", "meter": "gigabytes", "unit_price": "0.25"},
            {
                "id": "leads",
                "type": "per_outcome",
                "outcome": "qualified_lead",
                "unit_price": "40.00",
            },
        ],
    }


def event(number: int, account: str, day: int = 3, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"{account}-{number}",
        "account": account,
        "type": "api.call",
        "timestamp": f"2026-11-{day:02d}T{number % 24:02d}:00:00Z",
        "properties": {"region": ("eu", "us")[number % 2]},
    }
    return {**base, **fields}


def upload(number: int, account: str, gigabytes: float) -> dict[str, Any]:
    return event(number, account, type="upload", properties={"size": gigabytes})


def ingest(engine: Engine, tenant: Tenant, items: list[dict[str, Any]]) -> None:
    results = ingest_batch(engine, tenant.id, items, IngestOptions())
    assert all(r.status == "accepted" for r in results), results


def setup_book(engine: Engine, tenant: Tenant) -> None:
    """Meters, two accounts with contracts, and November usage interleaved on the log."""
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
        for name in ("acme", "globex"):
            create_account(
                connection, tenant.id, AccountCreate(external_id=name, name=name.title())
            )
        for name in ("acme", "globex"):
            definition = {**DEFINITION, "contract": f"{name}-2026"}
            apply_definition(connection, tenant.id, parse_definition(definition), 1)
            catalog = load_catalog(connection, tenant.id)
            apply_contract(connection, tenant.id, parse_contract(contract(name)), catalog, 1)
    interleaved = []
    for number in range(60):
        interleaved.append(event(number, "acme", day=1 + number % 28))
        interleaved.append(event(number, "globex", day=1 + number % 28))
    interleaved += [upload(100, "acme", 1.5), upload(101, "acme", 2.25)]
    interleaved += [upload(100, "globex", 7)]
    october = event(900, "acme", timestamp="2026-10-31T23:00:00Z")
    ingest(engine, tenant, [*interleaved, october])
    # A void and an amendment: the bundle carries both, and the recount leaves them out.
    ingest(
        engine,
        tenant,
        [
            {**event(901, "acme"), "voids": "acme-1"},
            {**event(902, "acme"), "amends": "acme-2", "properties": {"region": "us"}},
        ],
    )
    leads = [
        {
            "id": f"lead-{n}",
            "account": "acme",
            "contract": "acme-2026",
            "outcome": "qualified_lead",
            "occurred_at": format_rfc3339(NOVEMBER + timedelta(days=n)),
            "attributes": {"ref": f"r{n}"},
        }
        for n in range(1, 5)
    ]
    with tenant_write(engine, tenant.id) as connection:
        submit_claims(connection, tenant.id, leads, NOVEMBER + timedelta(days=6))
        micros = to_micros(NOVEMBER + timedelta(days=7))
        open_dispute(connection, tenant.id, "lead-2", "We knew this one.", micros)
        resolve_dispute(connection, tenant.id, "lead-2", "upheld", "Agreed.", micros + 1)


def finalize(
    engine: Engine, tenant: Tenant, keyring: Keyring, account: str = "acme", taxed: bool = True
) -> tuple[int, dict[str, Any]]:
    """What finalize does: rate the closed period, number the invoice, append its leaf in the
    tenant's write transaction, and sign a checkpoint."""
    with tenant_write(engine, tenant.id) as connection:
        charges = rate_period(connection, tenant.id, account, NOVEMBER, CLOSED)
        rates = (TaxRate("VAT", Decimal("0.19")),) if taxed else ()
        customer = Customer(account, account.title(), tax=TaxProfile(rates=rates))
        document = invoice_document(
            charges, customer, number=f"ACME-2026-{account}", issued_at=CLOSED
        )
        index = ledger_log.append(
            connection, tenant.id, [leaf_bytes("invoice", 1, document)], to_micros(CLOSED)
        )
    sign_checkpoint(engine, tenant.id, keyring)
    return index, document


def bundle_of(engine: Engine, tenant: Tenant, index: int) -> dict[str, Any]:
    with read(engine) as connection:
        built = invoice_bundle(connection, tenant.id, index, CLOSED)
    # Through JSON and back, as a customer downloads it.
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(built))
    return loaded


@pytest.fixture
def finalized(
    engine: Engine, tenant: Tenant, signing_key: StoredKey, keyring: Keyring
) -> tuple[dict[str, Any], dict[str, Any], str]:
    setup_book(engine, tenant)
    index, document = finalize(engine, tenant, keyring)
    return bundle_of(engine, tenant, index), document, signing_key.verifier.vkey


def failed_checks(report: InvoiceReport) -> set[str]:
    return {failure.check for failure in report.failures}


def test_a_finalized_invoice_recomputes_line_by_line_from_its_bundle(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, document, vkey = finalized
    report = check_bundle(bundle, [vkey])
    assert report.failures == ()
    assert report.holds
    assert [(line.component, line.kind) for line in report.lines] == [
        ("platform", "flat"),
        ("api", "graduated"),
        ("storage", "per_unit"),
        ("leads", "per_outcome"),
    ]
    assert all(line.matches for line in report.lines)
    computed = {line.component: line.computed for line in report.lines}
    # 60 calls, less the voided one: 10 x 0.50 + (1.00 + 30 x 0.20) + 19 x 0.10
    assert computed["api"] == (Decimal(59), Decimal("13.90"))
    assert computed["storage"] == (Decimal("3.75"), Decimal("0.94"))
    assert computed["leads"] == (Decimal(3), Decimal("120.00"))  # lead-2 was upheld
    assert [t.name for t in report.totals] == ["subtotal", "tax VAT", "tax total", "total"]
    assert all(t.matches for t in report.totals)
    assert report.totals[-1].computed == Decimal(document["total"])
    rests = {line.component: line.rests_on for line in report.lines}
    assert rests["api"] == ("meter definition 'calls'",)
    assert rests["platform"] == ()


def test_the_bundle_holds_only_the_accounts_own_records(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, _document, _vkey = finalized
    kinds: dict[str, int] = {}
    for record in bundle["records"]:
        leaf = parse_leaf(record["entry"].encode())
        kinds[leaf.record_type] = kinds.get(leaf.record_type, 0) + 1
        if leaf.record_type in ("usage_event", "outcome_verdict"):
            assert leaf.record["account"] == "acme"
        assert "globex" not in record["entry"]
    # 60 calls + the void + the amendment + 2 uploads; 4 verdicts; the upheld resolution.
    assert kinds == {"usage_event": 64, "outcome_verdict": 4, "outcome_dispute": 1}
    october = [r for r in bundle["records"] if '"acme-900"' in r["entry"]]
    assert october == []


def test_globex_gets_its_own_bundle_and_it_verifies(
    engine: Engine, tenant: Tenant, signing_key: StoredKey, keyring: Keyring
) -> None:
    setup_book(engine, tenant)
    finalize(engine, tenant, keyring)
    index, _ = finalize(engine, tenant, keyring, account="globex", taxed=False)
    bundle = bundle_of(engine, tenant, index)
    assert all('"account":"globex"' in r["entry"] for r in bundle["records"])
    report = check_bundle(bundle, [signing_key.verifier.vkey])
    assert report.holds, report


def tampered_record(bundle: dict[str, Any], marker: str, old: str, new: str) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    [record] = [r for r in changed["records"] if marker in r["entry"]]
    assert old in record["entry"]
    record["entry"] = record["entry"].replace(old, new)
    return changed


def test_a_changed_usage_record_is_caught(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, _document, vkey = finalized
    changed = tampered_record(bundle, '"acme-101"', '"size":2.25', '"size":20.25')
    report = check_bundle(changed, [vkey])
    assert "inclusion" in failed_checks(report)
    storage = next(line for line in report.lines if line.component == "storage")
    assert not storage.matches
    assert storage.computed == (Decimal("21.75"), Decimal("5.44"))
    assert not report.holds


def test_a_changed_contract_price_is_caught(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, _document, vkey = finalized
    report = check_bundle(dearer_storage(bundle), [vkey])
    assert "inclusion" in failed_checks(report)
    storage = next(line for line in report.lines if line.component == "storage")
    assert storage.stated == (Decimal("3.75"), Decimal("0.94"))
    assert storage.computed == (Decimal("3.75"), Decimal("1.12"))  # 1.125, half to even


def changed_invoice(bundle: dict[str, Any], change: Any) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    leaf = parse_leaf(changed["invoice"]["entry"].encode())
    document = copy.deepcopy(leaf.record)
    change(document)
    changed["invoice"]["entry"] = leaf_bytes("invoice", 1, document).decode()
    return changed


def test_a_changed_line_quantity_or_invoice_amount_is_caught(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, _document, vkey = finalized
    report = check_bundle(changed_invoice(bundle, more_calls), [vkey])
    assert "inclusion" in failed_checks(report)
    api = report.lines[1]
    assert (api.component, api.matches) == ("api", False)
    assert api.stated == (Decimal(70), Decimal("13.90"))
    report = check_bundle(changed_invoice(bundle, larger_total), [vkey])
    assert "inclusion" in failed_checks(report)
    total = report.totals[-1]
    assert (total.name, total.matches) == ("total", False)
    assert total.stated == total.computed + 1  # type: ignore[operator]


def test_a_changed_proof_hash_or_signature_is_caught(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, _document, vkey = finalized
    report = check_bundle(flipped_proof_hash(bundle), [vkey])
    assert failed_checks(report) == {"inclusion"}
    assert all(line.matches for line in report.lines)  # the numbers hold; the proof does not
    assert not report.holds
    report = check_bundle(forged_signature(bundle), [vkey])
    assert failed_checks(report) == {"checkpoint signature", "inclusion"}
    assert not report.holds


def test_an_invoice_leaf_out_of_canonical_form_is_named(
    finalized: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    bundle, _document, vkey = finalized
    changed = copy.deepcopy(bundle)
    changed["invoice"]["entry"] = changed["invoice"]["entry"].replace('{"record":', '{ "record":')
    report = check_bundle(changed, [vkey])
    assert failed_checks(report) == {"invoice leaf", "inclusion"}
    assert all(line.matches for line in report.lines)


def test_a_record_of_another_account_is_refused(
    engine: Engine, tenant: Tenant, signing_key: StoredKey, keyring: Keyring
) -> None:
    setup_book(engine, tenant)
    index, _ = finalize(engine, tenant, keyring)
    acme = bundle_of(engine, tenant, index)
    other, _ = finalize(engine, tenant, keyring, account="globex")
    globex = bundle_of(engine, tenant, other)
    smuggled = copy.deepcopy(acme)
    smuggled["records"].append(globex["records"][0])
    report = check_bundle(smuggled, [signing_key.verifier.vkey])
    assert any("belongs to account 'globex'" in f.detail for f in report.failures)
    assert not report.holds


def test_an_unreadable_bundle_or_an_uncovered_invoice_is_refused(
    engine: Engine, tenant: Tenant, signing_key: StoredKey
) -> None:
    with pytest.raises(BundleInvalid, match="format"):
        check_bundle({"format": "something else"}, [signing_key.verifier.vkey])
    setup_book(engine, tenant)
    with tenant_write(engine, tenant.id) as connection:
        charges = rate_period(connection, tenant.id, "acme", NOVEMBER, CLOSED)
        document = invoice_document(charges, Customer("acme", "Acme"), number="N-1")
        index = ledger_log.append(
            connection, tenant.id, [leaf_bytes("invoice", 1, document)], to_micros(CLOSED)
        )
    with read(engine) as connection, pytest.raises(Conflict, match="no signed checkpoint"):
        invoice_bundle(connection, tenant.id, index, CLOSED)


# `valueproof verify invoice`, as the customer runs it on the downloaded file


def verify_invoice(tmp_path: Path, bundle: dict[str, Any] | str, vkey: str) -> Result:
    path = tmp_path / "bundle.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle))
    result = CliRunner().invoke(
        app,
        [
            "--database-url",
            f"sqlite:///{tmp_path / 'unused.db'}",
            "verify",
            "invoice",
            str(path),
            "--vkey",
            vkey,
        ],
    )
    assert "Traceback" not in result.output
    return result


def test_the_command_exits_0_when_every_line_matches(
    finalized: tuple[dict[str, Any], dict[str, Any], str], tmp_path: Path
) -> None:
    bundle, document, vkey = finalized
    result = verify_invoice(tmp_path, bundle, vkey)
    assert result.exit_code == 0, result.output
    assert f"invoice {document['number']} of account acme" in result.output
    assert "line 2 api (graduated): matches, 59 -> 13.90" in result.output
    assert "rests on stated, unproven inputs: meter definition 'calls'" in result.output
    assert result.output.rstrip().endswith("verified: every check holds and every line matches")


def flipped_proof_hash(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    first = bytearray(base64.b64decode(changed["proof"]["hashes"][0]))
    first[0] ^= 1
    changed["proof"]["hashes"][0] = base64.b64encode(bytes(first)).decode()
    return changed


def forged_signature(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    body, _, signature = changed["checkpoint"].rpartition("\n— ")
    name, encoded = signature.split(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    changed["checkpoint"] = f"{body}\n— {name} {base64.b64encode(bytes(raw)).decode()}\n"
    return changed


def dearer_storage(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    version = changed["contract_version"]
    version["entry"] = version["entry"].replace('"unit_price":"0.25"', '"unit_price":"0.30"')
    return changed


def more_calls(document: dict[str, Any]) -> None:
    document["lines"][1]["quantity"] = "70"


def larger_total(document: dict[str, Any]) -> None:
    document["total"] = str(Decimal(document["total"]) + 1)


TAMPERINGS: dict[str, tuple[Any, str]] = {
    "a usage record's value": (
        lambda b: tampered_record(b, '"acme-101"', '"size":2.25', '"size":20.25'),
        "line 3 storage (per_unit): DIFFERS, the invoice says 3.75 -> 0.94,"
        " re-computed 21.75 -> 5.44",
    ),
    "a contract price": (
        dearer_storage,
        "line 3 storage (per_unit): DIFFERS, the invoice says 3.75 -> 0.94,"
        " re-computed 3.75 -> 1.12",
    ),
    "a line quantity": (
        lambda b: changed_invoice(b, more_calls),
        "line 2 api (graduated): DIFFERS, the invoice says 70 -> 13.90, re-computed 59 -> 13.90",
    ),
    "an invoice amount": (lambda b: changed_invoice(b, larger_total), "total: DIFFERS"),
    "a proof hash": (flipped_proof_hash, "FAILED inclusion: the multiproof of"),
    "the checkpoint signature": (forged_signature, "FAILED checkpoint signature:"),
}


@pytest.mark.parametrize("what", TAMPERINGS)
def test_the_command_exits_1_and_names_what_was_tampered_with(
    finalized: tuple[dict[str, Any], dict[str, Any], str], tmp_path: Path, what: str
) -> None:
    bundle, _document, vkey = finalized
    tamper, named = TAMPERINGS[what]
    result = verify_invoice(tmp_path, tamper(bundle), vkey)
    assert result.exit_code == 1, result.output
    assert named in result.output
    assert "FAILED inclusion" in result.output  # each change breaks the proof too
    assert "NOT verified" in result.output


def test_the_command_exits_2_on_an_unreadable_bundle(
    finalized: tuple[dict[str, Any], dict[str, Any], str], tmp_path: Path
) -> None:
    _bundle, _document, vkey = finalized
    assert verify_invoice(tmp_path, "{not json", vkey).exit_code == 2
    missing = verify_invoice(tmp_path, {"format": "valueproof-invoice-bundle/1"}, vkey)
    assert missing.exit_code == 2
    assert "error: invoice:" in missing.output
