"""Customer Success's writes, one transaction each: success-plan actions and the dispute steps
answered with a plan's adherence, refreshes, segments, alert snoozes, settings, engagements and
driver series.

Each takes the engine, holds the tenant's write lock, reads the clock and commits; a plan action
or a dispute step is a ledger leaf, and its write signs a checkpoint if one is due
(`CheckpointPolicy`). The API, the CLI and the server's refresh beat parse their input, call one
of these, and render what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from valueproof.errors import NotFound
from valueproof.ledger.publish import CheckpointPolicy, after_append
from valueproof.outcomes import disputes
from valueproof.outcomes.claim_records import stored_claim
from valueproof.outcomes.disputes import Dispute
from valueproof.store import read, tenant_write
from valueproof.success import alert_store, engagements, live, plans, segment_store, settings
from valueproof.success import refresh as refreshing
from valueproof.success.alert_store import StoredAlert
from valueproof.success.engagements import Engagement
from valueproof.success.plans import ActionDocument, Adherence, Party, StoredAction
from valueproof.success.refresh import RefreshReport
from valueproof.success.segment_store import SegmentReport
from valueproof.tenancy.accounts import account_id, get_account
from valueproof.tenancy.clock import now_us

__all__ = [
    "answer_dispute",
    "open_dispute",
    "put_driver_series",
    "record_engagement",
    "refresh",
    "refresh_due",
    "resolve_dispute",
    "segment_accounts",
    "set_action",
    "snooze",
    "store_setting",
]

T = TypeVar("T")


# --- disputes: each step a leaf, answered with the plan's adherence when it was opened ------------


def open_dispute(
    engine: Engine,
    tenant_id: int,
    claim_id: str,
    reason: str,
    account: str,
    policy: CheckpointPolicy,
) -> tuple[Dispute, Adherence]:
    """The customer of `account` disputes its accepted outcome; another account's claim is
    NotFound, the same answer as for no claim at all."""
    with tenant_write(engine, tenant_id) as connection:
        at = now_us()
        if stored_claim(connection, tenant_id, claim_id).account != account:
            raise NotFound(f"no claim {claim_id!r}")
        found = disputes.open_dispute(connection, tenant_id, claim_id, reason, at)
        after_append(connection, tenant_id, policy, at)
        return found, _plan_when_opened(connection, tenant_id, found)


def answer_dispute(
    engine: Engine, tenant_id: int, claim_id: str, answer: str, policy: CheckpointPolicy
) -> tuple[Dispute, Adherence]:
    """The vendor answers an open dispute (as often as needed before resolving it)."""
    with tenant_write(engine, tenant_id) as connection:
        at = now_us()
        found = disputes.answer_dispute(connection, tenant_id, claim_id, answer, at)
        after_append(connection, tenant_id, policy, at)
        return found, _plan_when_opened(connection, tenant_id, found)


def resolve_dispute(
    engine: Engine,
    tenant_id: int,
    claim_id: str,
    resolution: str,
    note: str,
    policy: CheckpointPolicy,
) -> tuple[Dispute, Adherence]:
    """The vendor resolves a dispute: `upheld` voids the outcome, `rejected` keeps it."""
    with tenant_write(engine, tenant_id) as connection:
        at = now_us()
        found = disputes.resolve_dispute(connection, tenant_id, claim_id, resolution, note, at)
        after_append(connection, tenant_id, policy, at)
        return found, _plan_when_opened(connection, tenant_id, found)


def _plan_when_opened(connection: Connection, tenant_id: int, found: Dispute) -> Adherence:
    owner = account_id(connection, tenant_id, found.claim.account)
    return plans.adherence(connection, tenant_id, owner, found.steps[0].at_us)


# --- success plans --------------------------------------------------------------------------------


def set_action(
    engine: Engine,
    tenant_id: int,
    external_id: str,
    document: ActionDocument,
    party: Party,
    policy: CheckpointPolicy,
) -> tuple[plans.Status, StoredAction]:
    """Create or change an action of the account's plan as `party`; a change is a new version
    and a leaf, the same document again changes nothing."""
    with tenant_write(engine, tenant_id) as connection:
        account = get_account(connection, tenant_id, external_id)
        now = now_us()
        status, stored = plans.set_action(connection, tenant_id, account.id, document, party, now)
        if status != "unchanged":
            after_append(connection, tenant_id, policy, now)
    return status, stored


# --- the CSM's working state: no ledger leaves ----------------------------------------------------


def refresh(
    engine: Engine, tenant_id: int, now: datetime, only: Sequence[str] | None = None
) -> RefreshReport:
    """Refresh seasonality, baselines, alerts and health of every account (or those in `only`,
    by external id) as of `now`."""
    with tenant_write(engine, tenant_id) as connection:
        return refreshing.refresh(connection, tenant_id, now, only)


def refresh_due(engine: Engine, now: datetime) -> None:
    """One beat of the server's refresh: each tenant's due accounts, in its own transaction."""
    with read(engine) as connection:
        found = live.tenant_ids(connection)
    for tenant_id in found:
        with tenant_write(engine, tenant_id) as connection:
            live.refresh_tenant_if_due(connection, tenant_id, now)


def segment_accounts(
    engine: Engine, tenant_id: int, meter: str | None = None, k: int | None = None
) -> SegmentReport:
    """Recompute every account's segments now: by rule, and by clusters of usage on `meter`
    (default: chosen) into `k` clusters (default: by silhouette)."""
    with tenant_write(engine, tenant_id) as connection:
        return segment_store.segment_accounts(connection, tenant_id, datetime.now(UTC), meter, k)


def snooze(engine: Engine, tenant_id: int, alert_id: int, until_us: int) -> StoredAlert:
    """Snooze a live alert until `until_us`: still updated, out of the open queue until then."""
    with tenant_write(engine, tenant_id) as connection:
        return alert_store.snooze(connection, tenant_id, alert_id, until_us, now_us())


def store_setting(
    engine: Engine, tenant_id: int, key: str, document: Any, parse: Callable[[Any], T]
) -> T:
    """Replace the settings document `key` with `document`, refused whole when `parse` finds a
    bad field."""
    with tenant_write(engine, tenant_id) as connection:
        return settings.store_setting(connection, tenant_id, key, document, parse, now_us())


def record_engagement(
    engine: Engine,
    tenant_id: int,
    external_id: str,
    kind: str,
    by: str,
    note: str,
    at_us: int | None = None,
) -> Engagement:
    """Record an engagement with the account at `at_us` (default: now)."""
    with tenant_write(engine, tenant_id) as connection:
        account = get_account(connection, tenant_id, external_id)
        when = now_us() if at_us is None else at_us
        return engagements.record_engagement(
            connection, tenant_id, account.id, when, kind, by, note
        )


def put_driver_series(
    engine: Engine, tenant_id: int, external_id: str, driver: str, points: Sequence[Any]
) -> int:
    """Replace one driver series of the account; the number of points stored."""
    with tenant_write(engine, tenant_id) as connection:
        account = get_account(connection, tenant_id, external_id)
        return engagements.put_driver_series(connection, tenant_id, account.id, driver, points)
