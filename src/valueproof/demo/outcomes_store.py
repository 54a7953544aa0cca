"""Write the demo's outcome-priced slice into a seeded tenant through the product's own write
paths: contract amendments, outcome definitions, the customer's known set, claims with their
verdicts, oracle sources and signed readings, success-plan changes and disputes.

Every record the API or the CLI would put on the ledger lands there the same way. The caller
holds the tenant lock in its transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from valueproof.contracts.claim_accounts import submit_under_contracts
from valueproof.contracts.registry import apply_contract
from valueproof.contracts.validation import parse_contract
from valueproof.demo.accounts import DemoAccount
from valueproof.demo.book import BookSpec
from valueproof.demo.contracts import demo_contract
from valueproof.demo.outcomes import (
    ClaimSet,
    OutcomeAccounts,
    dispute_steps,
    gain_start,
    hire_claims,
    hire_definition,
    lead_claims,
    lead_definition,
    month_start,
    outcome_accounts,
    outcome_components,
    plan_steps,
    reading_nonce,
    retention_readings,
    retention_sources,
    source_seed,
)
from valueproof.ledger.log import log_size
from valueproof.metering.registry import load_catalog
from valueproof.outcomes import disputes
from valueproof.outcomes import knownset_store as known
from valueproof.outcomes.definition_store import apply_definition
from valueproof.outcomes.definitions import parse_definition
from valueproof.outcomes.knownset import known_hashes
from valueproof.outcomes.oracles import (
    MetricDefinition,
    SourceDefinition,
    apply_metric,
    apply_source,
    submit_readings,
)
from valueproof.outcomes.readings import Reading, public_key_text, sign_reading, submission
from valueproof.periods import format_rfc3339, to_micros
from valueproof.success.plans import parse_action, set_action
from valueproof.tenancy.accounts import account_ids

__all__ = ["OutcomeReport", "seed_outcomes"]

# A reading of the gain-share's baseline may be a year old when it is submitted.
_SOURCE_MAX_AGE = 400 * 86_400


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    """What the outcome slice recorded."""

    definitions: int
    accepted: int  # claims whose verdict makes them billable
    refused: int  # claims on record, refused with reasons
    known_set: int  # hashes uploaded to the known set (0 without a passphrase)
    readings: int
    plan_changes: int
    disputes: int
    leaves: int  # ledger leaves the slice appended


def seed_outcomes(
    connection: Connection,
    tenant_id: int,
    book: list[DemoAccount],
    spec: BookSpec,
    now: datetime,
    passphrase: str | None,
) -> OutcomeReport:
    """Record the slice as of `now` (after the book's end): the outcome definitions, a year of
    readings, amendments in force for the last year that price them, this month's claims, plans
    of the last 75 days, then disputes.

    Without a passphrase no known-set secret can be sealed, so the customer's known leads are
    not refused as already known (80 of the 100 leads bill instead of 60).
    """
    roles = outcome_accounts(book)
    size = log_size(connection, tenant_id)
    claimed = now - timedelta(minutes=30)
    since = max(month_start(claimed), claimed - timedelta(days=20))
    leads = (
        ClaimSet([], [])
        if roles.leads is None
        else lead_claims(roles.leads, spec.seed, since, claimed)
    )
    hires = (
        ClaimSet([], [])
        if roles.hires is None
        else hire_claims(roles.hires, spec.seed, since, claimed)
    )
    definitions = [lead_definition(a) for a in (roles.leads,) if a]
    definitions += [hire_definition(a) for a in (roles.hires,) if a]
    for document in definitions:
        apply_definition(connection, tenant_id, parse_definition(document), to_micros(now))
    readings = 0
    if roles.retention is not None:  # registers the gain-share's metric with its readings
        readings = _readings(connection, tenant_id, roles.retention, spec, now)
    # after the definitions and the metric: a contract may only price names that exist
    _amend(connection, tenant_id, roles, spec, now)
    uploaded = 0
    if roles.leads is not None and passphrase:
        uploaded = _known_set(connection, tenant_id, roles.leads, spec.seed, leads, passphrase, now)
    verdicts = _claims(connection, tenant_id, leads.claims + hires.claims, claimed, passphrase)
    changes = _plans(connection, tenant_id, roles, now)
    opened = dispute_steps(leads, hires, verdicts, claimed + timedelta(minutes=5))
    for turn in opened:
        _dispute(connection, tenant_id, turn.claim, turn.step, turn.text, turn.resolution, turn.at)
    return OutcomeReport(
        definitions=len(definitions),
        accepted=sum(verdicts.values()),
        refused=len(verdicts) - sum(verdicts.values()),
        known_set=uploaded,
        readings=readings,
        plan_changes=changes,
        disputes=sum(1 for turn in opened if turn.step == "open"),
        leaves=log_size(connection, tenant_id) - size,
    )


def _claims(
    connection: Connection,
    tenant_id: int,
    items: list[dict[str, Any]],
    at: datetime,
    passphrase: str | None,
) -> dict[str, bool]:
    """Submit the claims as the API does; whether each one's verdict made it billable."""
    results = submit_under_contracts(connection, tenant_id, items, at, passphrase)
    if any(result.status != "accepted" for result in results):
        raise RuntimeError(f"the demo's claims were not all taken: {results!r}")
    return {r.id: bool(r.accepted) for r in results if r.id}


def _plans(connection: Connection, tenant_id: int, roles: OutcomeAccounts, now: datetime) -> int:
    """Each outcome account's success plan, change by change as it happened; how many."""
    ids = account_ids(connection, tenant_id, {a.external_id for a in roles.all()})
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    changes = 0
    for account in roles.all():
        for step in plan_steps(account, today):
            action = parse_action(step.document)
            set_action(
                connection, tenant_id, ids[step.account], action, step.party, to_micros(step.at)
            )
            changes += 1
    return changes


def _amend(
    connection: Connection, tenant_id: int, roles: OutcomeAccounts, spec: BookSpec, now: datetime
) -> None:
    """Each outcome account's contract gets a second version adding its outcome prices."""
    catalog = load_catalog(connection, tenant_id)
    for account in roles.all():
        document = demo_contract(account, spec.start)
        effective = gain_start(parse_contract(document).term.start, now)
        document["effective_from"] = format_rfc3339(effective)
        document["description"] += "; priced on outcomes too"
        document["components"] += outcome_components(roles, account, effective)
        apply_contract(connection, tenant_id, parse_contract(document), catalog, to_micros(now))


def _known_set(
    connection: Connection,
    tenant_id: int,
    account: DemoAccount,
    seed: int,
    leads: ClaimSet,
    passphrase: str,
    now: datetime,
) -> int:
    """The customer's secret (sealed) and the hashes of the contacts it already had."""
    secret = hashlib.sha256(f"valueproof-demo/{seed}/known-set/{account.external_id}".encode())
    owner = account_ids(connection, tenant_id, [account.external_id])[account.external_id]
    known.set_secret(connection, tenant_id, owner, secret.digest(), passphrase, to_micros(now))
    hashes = known_hashes(secret.digest(), leads.known)
    return known.add_hashes(connection, tenant_id, owner, hashes, to_micros(now))


def _readings(
    connection: Connection, tenant_id: int, account: DemoAccount, spec: BookSpec, now: datetime
) -> int:
    """Two sources of the account's net retention, a median rule over them, and a year of
    readings each source signed with its own key."""
    effective = gain_start(parse_contract(demo_contract(account, spec.start)).term.start, now)
    latest = max(month_start(now), now - timedelta(hours=1))
    plan = retention_readings(account, spec.seed, effective, latest)
    keys = {}
    for source in retention_sources(account):
        key = Ed25519PrivateKey.from_private_bytes(source_seed(spec.seed, source))
        keys[source] = key
        definition = SourceDefinition(
            key=source,
            name=("Customer BI" if source.endswith(":bi") else "Vendor CRM"),
            public_key=public_key_text(key.public_key()),
            metrics=[plan.metric],
            max_age_seconds=_SOURCE_MAX_AGE,
        )
        apply_source(connection, tenant_id, definition, to_micros(now))
    rule = MetricDefinition.model_validate(
        {
            "key": plan.metric,
            "rule": "median",
            "sources": list(plan.by_source),
            "min_sources": 2,
            "tolerance": "1.5",
        }
    )
    apply_metric(connection, tenant_id, rule, to_micros(now))
    items: list[dict[str, Any]] = []
    for source, values in plan.by_source.items():
        for as_of, value in values:
            reading = Reading(source, plan.metric, value, as_of, reading_nonce(source, as_of))
            items.append(submission(reading, sign_reading(keys[source], reading)))
    items.sort(key=lambda item: str(item["reading"]["as_of"]))
    results = submit_readings(connection, tenant_id, items, now)
    if any(result.status != "accepted" for result in results):
        raise RuntimeError(f"the demo's readings were not all taken: {results!r}")
    return len(results)


def _dispute(
    connection: Connection,
    tenant_id: int,
    claim: str,
    step: str,
    text: str,
    resolution: str | None,
    at: datetime,
) -> None:
    if step == "open":
        disputes.open_dispute(connection, tenant_id, claim, text, to_micros(at))
    elif step == "answer":
        disputes.answer_dispute(connection, tenant_id, claim, text, to_micros(at))
    else:
        disputes.resolve_dispute(
            connection, tenant_id, claim, resolution or "", text, to_micros(at)
        )
