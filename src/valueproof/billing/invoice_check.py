"""Re-computing an invoice from its proof bundle, as the customer does. Pure: no I/O, no store.

Like `ledger.verifier`, it trusts only the vendor's verifier keys. It checks the checkpoint's
signature, one multiproof that every bundled leaf is in the signed tree, that each record is
the invoice account's own and was on the log before the invoice was rated; then rebuilds the
rating inputs from the records (`billing.recount`, with the fold metering uses), rates them
with the same `contracts.rating.rate`, builds the invoice with the same
`billing.invoice.invoice_document`, and compares every line and total. What rating reads that
is not a record on the log (meter definitions, account attributes, earlier periods) the bundle
states; the report names each line that rests on such a stated input.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from valueproof.billing.corrections import Correction
from valueproof.billing.errors import BundleInvalid
from valueproof.billing.invoice import Customer, invoice_document
from valueproof.billing.recount import Record, rating_input
from valueproof.billing.taxes import TaxProfile, TaxRate
from valueproof.contracts.document import ContractDocument, GainShare
from valueproof.contracts.rating import rate
from valueproof.contracts.records import CONTRACT_VERSION
from valueproof.contracts.validation import compile_contract, parse_contract
from valueproof.errors import ValueproofError
from valueproof.ledger import merkle
from valueproof.ledger.errors import LedgerError
from valueproof.ledger.leaves import Leaf, leaf_bytes, parse_leaf
from valueproof.ledger.multiproof import verify_multiproof
from valueproof.ledger.verifier import Vkeys, verify_checkpoint
from valueproof.metering.records import USAGE_EVENT
from valueproof.outcomes.claim_records import OUTCOME_VERDICT
from valueproof.outcomes.disputes import OUTCOME_DISPUTE
from valueproof.outcomes.oracles import ORACLE_READING
from valueproof.periods import billing_period_at, parse_rfc3339

__all__ = [
    "BUNDLE_FORMAT",
    "INVOICE",
    "Failure",
    "InvoiceReport",
    "LineCheck",
    "TotalCheck",
    "check_bundle",
]

BUNDLE_FORMAT = "valueproof-invoice-bundle/1"
INVOICE = "invoice"  # the record type of a finalized invoice's leaf (schema version 1)


@dataclass(frozen=True, slots=True)
class Failure:
    """A check that did not hold: which one, and why."""

    check: str
    detail: str


@dataclass(frozen=True, slots=True)
class LineCheck:
    """One invoice line against the same line re-computed (None: the other side has no line)."""

    position: int
    component: str
    kind: str
    stated: tuple[Decimal, Decimal] | None  # quantity, amount as the invoice says
    computed: tuple[Decimal, Decimal] | None  # as re-computed from the bundle
    rests_on: tuple[str, ...] = ()  # the stated (unproven) inputs the line depends on

    @property
    def matches(self) -> bool:
        return self.stated is not None and self.stated == self.computed


@dataclass(frozen=True, slots=True)
class TotalCheck:
    """A subtotal, tax or total against its re-computed value."""

    name: str
    stated: Decimal | None
    computed: Decimal | None

    @property
    def matches(self) -> bool:
        return self.stated is not None and self.stated == self.computed


@dataclass(frozen=True, slots=True)
class InvoiceReport:
    """What `check_bundle` found: the invoice, each line and total, and every failed check."""

    number: str | None
    account: str
    period: tuple[str, str]
    checkpoint_size: int
    records: int
    lines: tuple[LineCheck, ...]
    totals: tuple[TotalCheck, ...]
    failures: tuple[Failure, ...]

    @property
    def holds(self) -> bool:
        """Every check held and every line and total matches."""
        return (
            not self.failures
            and all(line.matches for line in self.lines)
            and all(t.matches for t in self.totals)
        )


@dataclass(frozen=True, slots=True)
class _Entry:
    """A bundled leaf: its index, its bytes, and what they say (None: not a canonical leaf)."""

    index: int
    data: bytes
    leaf: Leaf | None


def check_bundle(bundle: Any, vkeys: Vkeys) -> InvoiceReport:
    """Check a proof bundle (parsed JSON) with the vendor's verifier keys.

    BundleInvalid when the bundle cannot be read at all (not this format, fields missing);
    everything else that fails is a `Failure` of the report.
    """
    if not isinstance(bundle, Mapping) or bundle.get("format") != BUNDLE_FORMAT:
        raise BundleInvalid("format", f"is not a proof bundle ({BUNDLE_FORMAT})")
    failures: list[Failure] = []
    invoice = _entry(bundle.get("invoice"), "invoice")
    version = _entry(bundle.get("contract_version"), "contract_version")
    raw_records = bundle.get("records")
    if not isinstance(raw_records, list):
        raise BundleInvalid("records", "must be a list")
    records = [_entry(item, f"records[{at}]") for at, item in enumerate(raw_records)]
    size = _check_proofs(bundle, [invoice, version, *records], vkeys, failures)
    if invoice.leaf is None or invoice.leaf.record_type != INVOICE or invoice.leaf.version != 1:
        raise BundleInvalid("invoice", "the entry is not an invoice leaf (record type invoice)")
    for entry, check in ((invoice, "invoice leaf"), (version, "contract version")):
        leaf = entry.leaf
        if (
            leaf is not None
            and leaf_bytes(leaf.record_type, leaf.version, leaf.record) != entry.data
        ):
            failures.append(Failure(check, f"leaf {entry.index} is not in canonical form"))
    document = invoice.leaf.record
    stated = bundle.get("stated")
    if not isinstance(stated, Mapping):
        raise BundleInvalid("stated", "must be an object")
    try:
        lines, totals = _recompute(document, version, records, stated, invoice.index, failures)
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        # A field of the invoice or of the stated inputs is missing or of the wrong shape.
        raise BundleInvalid("bundle", f"cannot be read: {error!r}") from None
    period = document.get("period") or {}
    return InvoiceReport(
        number=document.get("number"),
        account=str(document.get("account")),
        period=(str(period.get("start")), str(period.get("end"))),
        checkpoint_size=size,
        records=len(records),
        lines=lines,
        totals=totals,
        failures=tuple(failures),
    )


def _entry(value: Any, field: str) -> _Entry:
    """A bundled leaf, read as its bytes say: they are proven, so a record need not be encoded
    again to be trusted (`_canonical` holds the invoice and the contract version to it)."""
    if not isinstance(value, Mapping):
        raise BundleInvalid(field, "must be an object with index and entry")
    index, text = value.get("index"), value.get("entry")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise BundleInvalid(f"{field}.index", "must be a leaf index")
    if not isinstance(text, str):
        raise BundleInvalid(f"{field}.entry", "must be the leaf's text")
    data = text.encode()
    try:
        leaf: Leaf | None = parse_leaf(data, canonical=False)
    except LedgerError:
        leaf = None
    return _Entry(index, data, leaf)


def _check_proofs(
    bundle: Mapping[str, Any], entries: Sequence[_Entry], vkeys: Vkeys, failures: list[Failure]
) -> int:
    """Check the checkpoint's signature and the multiproof of every entry; the proof's size."""
    proof = bundle.get("proof")
    if not isinstance(proof, Mapping) or not isinstance(proof.get("hashes"), list):
        raise BundleInvalid("proof", "must be an object with size and hashes")
    size = proof.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise BundleInvalid("proof.size", "must be a tree size")
    try:
        hashes = [base64.b64decode(text, validate=True) for text in proof["hashes"]]
    except (binascii.Error, ValueError, TypeError):
        raise BundleInvalid("proof.hashes", "must be base64 hashes") from None
    note = bundle.get("checkpoint")
    if not isinstance(note, str):
        raise BundleInvalid("checkpoint", "must be the signed checkpoint note")
    for entry in entries:
        if entry.leaf is None:
            failures.append(Failure("leaf", f"entry {entry.index} is not a leaf"))
    try:
        checkpoint = verify_checkpoint(note, vkeys)
    except LedgerError as error:
        failures.append(Failure("checkpoint signature", str(error)))
        failures.append(Failure("inclusion", "not checked: no checkpoint verified"))
        return size
    if checkpoint.size != size:
        failures.append(
            Failure("inclusion", f"the proof is for size {size}, the checkpoint {checkpoint.size}")
        )
        return size
    ordered = sorted(entries, key=lambda e: e.index)
    indexes = [entry.index for entry in ordered]
    if len(set(indexes)) != len(indexes):
        failures.append(Failure("records", "a leaf index appears twice in the bundle"))
        return size
    try:
        verify_multiproof(
            indexes,
            [merkle.leaf_hash(entry.data) for entry in ordered],
            size,
            hashes,
            checkpoint.root_hash,
        )
    except LedgerError as error:
        failures.append(
            Failure(
                "inclusion",
                f"{error}: a record, the invoice, the contract or a proof hash was changed",
            )
        )
    return size


def _recompute(
    document: Mapping[str, Any],
    version: _Entry,
    records: Sequence[_Entry],
    stated: Mapping[str, Any],
    invoice_index: int,
    failures: list[Failure],
) -> tuple[tuple[LineCheck, ...], tuple[TotalCheck, ...]]:
    account = document["account"]
    ledger_size = int(document["ledger_size"])
    if invoice_index < ledger_size:
        failures.append(
            Failure("invoice leaf", f"leaf {invoice_index} precedes its ledger size {ledger_size}")
        )
    contract = _contract(document, version, ledger_size, failures)
    if contract is None:
        return (), ()
    owned = _owned(records, account, contract.contract, ledger_size, stated, failures)
    period = billing_period_at(
        contract.term.start,
        contract.term.end,
        contract.billing.period,
        contract.billing.anchor_day,
        parse_rfc3339(document["period"]["start"]),
    )
    if period is None:
        failures.append(Failure("period", "the invoice's period is outside the contract term"))
        return (), ()
    inputs = rating_input(
        owned,
        contract,
        period,
        ledger_size,
        stated,
        [(w["field"], w["reason"]) for w in document.get("warnings", [])],
    )
    try:
        charges = rate(compile_contract(contract), int(document["version"]), version.index, inputs)
    except ValueproofError as error:
        failures.append(Failure("rating", str(error)))
        return (), ()
    rebuilt = invoice_document(
        charges,
        _customer(document),
        _corrections(document),
        _balance(document),
        number=document.get("number"),
    )
    return _compare(document, rebuilt, contract, stated)


def _contract(
    document: Mapping[str, Any], version: _Entry, ledger_size: int, failures: list[Failure]
) -> ContractDocument | None:
    leaf = version.leaf
    if leaf is None or leaf.record_type != CONTRACT_VERSION:
        failures.append(Failure("contract version", "the entry is not a contract version leaf"))
        return None
    record = leaf.record
    expected = {
        "account": document.get("account"),
        "contract": document.get("contract"),
        "version": document.get("version"),
    }
    for name, value in expected.items():
        if record.get(name) != value:
            failures.append(
                Failure("contract version", f"its {name} {record.get(name)!r} is not {value!r}")
            )
    if version.index != document.get("version_leaf") or version.index >= ledger_size:
        failures.append(
            Failure(
                "contract version",
                f"leaf {version.index} is not the invoice's version leaf"
                f" {document.get('version_leaf')} before size {ledger_size}",
            )
        )
    try:
        return parse_contract(record.get("document"))
    except ValueproofError as error:
        failures.append(Failure("contract version", f"the document is not a contract: {error}"))
        return None


def _owned(
    records: Sequence[_Entry],
    account: str,
    contract: str,
    ledger_size: int,
    stated: Mapping[str, Any],
    failures: list[Failure],
) -> dict[str, list[Record]]:
    """The records by type, once each is the account's own (or a reading the lines cite) and
    was on the log before the invoice was rated; each one that is not is a failure."""
    cited = {
        leaf
        for readings in stated.get("readings", {}).values()
        for reading in readings
        for leaf in (*reading.get("leaves", []), reading.get("leaf_index"))
    }
    by_type: dict[str, list[Record]] = {}
    claims: set[str] = set()
    disputes: list[Record] = []
    for entry in records:
        leaf = entry.leaf
        if leaf is None:
            continue  # a failure already
        if entry.index >= ledger_size:
            failures.append(
                Failure("records", f"record {entry.index} came after the invoice was rated")
            )
            continue
        record, kind = leaf.record, leaf.record_type
        if kind == OUTCOME_DISPUTE:
            disputes.append(Record(entry.index, record))
            continue
        if kind in (USAGE_EVENT, OUTCOME_VERDICT):
            owner = record.get("account")
            if owner != account:
                failures.append(
                    Failure("records", f"record {entry.index} belongs to account {owner!r}")
                )
                continue
            if kind == OUTCOME_VERDICT:
                if record.get("contract") != contract:
                    failures.append(
                        Failure("records", f"verdict {entry.index} is under another contract")
                    )
                    continue
                claims.add(str(record.get("claim")))
        elif kind != ORACLE_READING or entry.index not in cited:
            failures.append(
                Failure("records", f"record {entry.index} ({kind}) is nothing this invoice cites")
            )
            continue
        by_type.setdefault(kind, []).append(Record(entry.index, record))
    for step in disputes:
        if str(step.record.get("claim")) not in claims:
            failures.append(
                Failure("records", f"dispute step {step.index} is of a claim not in the bundle")
            )
        else:
            by_type.setdefault(OUTCOME_DISPUTE, []).append(step)
    return by_type


def _customer(document: Mapping[str, Any]) -> Customer:
    """The addressee and tax profile the invoice states (its rates are printed on it)."""
    shown = document.get("customer") or {}
    profile = TaxProfile(
        rates=tuple(TaxRate(t["name"], Decimal(t["rate"])) for t in document.get("taxes", [])),
        inclusive=bool(document.get("tax_inclusive")),
        exempt=bool(document.get("tax_exempt")),
        tax_id=shown.get("tax_id"),
        jurisdiction=shown.get("jurisdiction"),
    )
    return Customer(str(document["account"]), str(shown.get("name", "")), tax=profile)


def _corrections(document: Mapping[str, Any]) -> list[Correction]:
    """The invoice's corrections of earlier periods, as it states them."""
    return [
        Correction(
            invoice=line["corrects"]["invoice"],
            period=line["corrects"]["period"],
            component=line["component"],
            kind=line["corrects"]["kind"],
            description="",
            quantity=Decimal(line["quantity"]),
            amount=Decimal(line["amount"]),
            leaves=tuple(
                (int(low), int(high))
                for source in line.get("sources", [])
                for low, high in source["leaves"]
            ),
        )
        for line in document.get("lines", [])
        if line.get("kind") == "correction"
    ]


def _balance(document: Mapping[str, Any]) -> Decimal:
    """The credit balance the invoice drew, as it states it."""
    return sum(
        (
            -Decimal(line["amount"])
            for line in document.get("lines", [])
            if line.get("kind") == "balance"
        ),
        Decimal(0),
    )


def _compare(
    document: Mapping[str, Any],
    rebuilt: Mapping[str, Any],
    contract: ContractDocument,
    stated: Mapping[str, Any],
) -> tuple[tuple[LineCheck, ...], tuple[TotalCheck, ...]]:
    ours, theirs = rebuilt["lines"], document.get("lines", [])
    lines = []
    for position in range(max(len(ours), len(theirs))):
        mine = ours[position] if position < len(ours) else None
        shown = theirs[position] if position < len(theirs) else None
        either = mine or shown
        assert either is not None
        lines.append(
            LineCheck(
                position + 1,
                str(either.get("component")),
                str(either.get("kind")),
                None if shown is None else _quantity_amount(shown),
                None if mine is None else _quantity_amount(mine),
                _rests_on(either, contract, stated),
            )
        )
    totals = [
        TotalCheck("subtotal", _decimal(document.get("subtotal")), Decimal(rebuilt["subtotal"]))
    ]
    stated_taxes = document.get("taxes", [])
    for position, tax in enumerate(rebuilt["taxes"]):
        shown_tax = stated_taxes[position] if position < len(stated_taxes) else {}
        totals.append(
            TotalCheck(
                f"tax {tax['name']}", _decimal(shown_tax.get("amount")), Decimal(tax["amount"])
            )
        )
    totals.append(
        TotalCheck("tax total", _decimal(document.get("tax_total")), Decimal(rebuilt["tax_total"]))
    )
    totals.append(TotalCheck("total", _decimal(document.get("total")), Decimal(rebuilt["total"])))
    return tuple(lines), tuple(totals)


def _quantity_amount(line: Mapping[str, Any]) -> tuple[Decimal, Decimal] | None:
    quantity, amount = _decimal(line.get("quantity")), _decimal(line.get("amount"))
    return None if quantity is None or amount is None else (quantity, amount)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None


def _rests_on(
    line: Mapping[str, Any], contract: ContractDocument, stated: Mapping[str, Any]
) -> tuple[str, ...]:
    """The stated inputs a line depends on: what the bundle cannot prove from the log."""
    kind = line.get("kind")
    if kind == "correction":
        return ("an earlier period's correction (check that period's invoice and bundle)",)
    if kind == "balance":
        return ("the account's credit balance",)
    found = []
    for source in line.get("sources", []):
        if source.get("kind") == "meter":
            key = source.get("key")
            found.append(f"meter definition {key!r}")
            if key in stated.get("usage", {}):
                found.append(f"usage of time-weighted meter {key!r}")
    if kind == "outcome_credit":
        found.append("earlier periods' outcome counts")
    name = str(line.get("component", "")).removeprefix("discount:")
    component = next((c for c in contract.components if c.id == name), None)
    if component is not None:
        if getattr(component, "when", None):
            found.append("account attributes (its `when` condition)")
        if isinstance(component, GainShare):
            found.append("metric values aggregated from the cited oracle readings")
        if component.type == "prepaid_credits" and stated.get("wallet_history"):
            found.append("earlier periods' charges drawn from the credits")
    return tuple(dict.fromkeys(found))
