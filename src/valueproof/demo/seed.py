"""Load the sample book of business into a tenant: definitions, accounts and their contracts, a
key, two years of usage, then the outcome-priced slice (definitions, claims, readings, plans,
disputes) and Customer Success as of the book's end.

Everything goes through the product's own paths (the registry, the accounts service, the one
ingest path, the outcome and plan write functions), so the demo exercises what a vendor would
use and every record is on the tenant's ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from valueproof.batches import BatchCounts
from valueproof.contracts.registry import apply_contract
from valueproof.contracts.validation import parse_contract
from valueproof.demo import EVENT_TYPES, METERS, BookSpec, demo_accounts, demo_events
from valueproof.demo.contracts import demo_contract
from valueproof.demo.labels import record_book
from valueproof.demo.outcomes_store import OutcomeReport, seed_outcomes
from valueproof.errors import AlreadyExists, NotFound
from valueproof.ledger.keyring import Keyring, generate_key
from valueproof.ledger.publish import CheckpointPolicy, after_append, log_origin
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.ingest import IngestOptions, ItemResult, ingest_stream
from valueproof.metering.registry import apply_event_type, apply_meter, load_catalog
from valueproof.store import tenant_lock, write
from valueproof.success.refresh import refresh
from valueproof.success.segment_store import segment_accounts
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import create_tenant, get_tenant


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What seeding did; `api_key` is shown once."""

    tenant: str
    accounts: int
    api_key: str
    vkey: str | None  # the checkpoint key customers verify with; None without a passphrase
    summary: BatchCounts
    outcomes: OutcomeReport
    seconds: float


def seed_demo(
    engine: Engine,
    spec: BookSpec,
    slug: str = "demo",
    chunk: int = 5_000,
    on_chunk: Callable[[list[ItemResult]], None] | None = None,
    passphrase: str | None = None,
    origin_prefix: str = "valueproof.localhost",
    now: datetime | None = None,
) -> SeedReport:
    """Create tenant `slug` with the book's definitions and accounts, ingest its usage, then
    record the outcome slice as of `now` (default: the clock; at or after the book's end).

    With a passphrase the tenant gets a signing key first, so every chunk ends in a signed
    checkpoint, and the lead example's known set can be sealed. Refuses (AlreadyExists) when
    the tenant exists: a demo is seeded once.
    """
    started = time.perf_counter()
    at = datetime.now(UTC) if now is None else now
    accounts = demo_accounts(spec)
    with write(engine) as connection:
        try:
            get_tenant(connection, slug)
        except NotFound:
            pass
        else:
            raise AlreadyExists(f"tenant {slug!r} exists already: the demo is seeded")
        tenant = create_tenant(connection, slug, "Demo book of business")
        tenant_lock(connection, tenant.id)
        for document in EVENT_TYPES:
            apply_event_type(connection, tenant.id, EventType.model_validate(document))
        for document in METERS:
            apply_meter(connection, tenant.id, Meter.model_validate(document))
        for account in accounts:
            create_account(
                connection,
                tenant.id,
                AccountCreate(
                    external_id=account.external_id,
                    name=account.name,
                    attributes={**account.attributes, "archetype": account.profile.archetype},
                ),
            )
        catalog = load_catalog(connection, tenant.id)
        start = spec.end - timedelta(days=spec.days)
        for account in accounts:
            terms = parse_contract(demo_contract(account, start))
            apply_contract(connection, tenant.id, terms, catalog, now_us())
        key = create_api_key(connection, tenant.id, frozenset(Scope), name="demo")
        record_book(connection, tenant.id, spec, now_us())  # for `success backtest --labels demo`
        signing = (
            generate_key(
                connection, tenant.id, log_origin(origin_prefix, slug), passphrase, now_us()
            )
            if passphrase
            else None
        )
    policy = CheckpointPolicy(Keyring(passphrase))
    summary = ingest_stream(
        engine,
        tenant.id,
        demo_events(spec, accounts),
        chunk,
        IngestOptions(checkpoints=policy),
        on_chunk=on_chunk,
    )
    # The outcome slice, then Customer Success as of the book's end: segments, seasonal
    # baselines, alerts and health (outcome acceptance and plan adherence among its measures),
    # so the dashboard's first page has its alert queue and bands from the start.
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        outcomes = seed_outcomes(connection, tenant.id, accounts, spec, at, passphrase)
        after_append(connection, tenant.id, policy, now_us())
        segment_accounts(connection, tenant.id, spec.end)
        refresh(connection, tenant.id, spec.end)
    return SeedReport(
        slug,
        len(accounts),
        key.token,
        None if signing is None else signing.verifier.vkey,
        summary,
        outcomes,
        time.perf_counter() - started,
    )
