"""Claims checked against the contracts they name before outcomes takes them: a claim under a
contract of another account is refused, naming `account`, since rating counts an account's
outcomes under its own contracts only and the claim would never be billed.

Outcomes never reads contracts (rating reads outcomes), so the check lives here, between the two,
and the API and the CLI submit claims through it. A contract key that no contract has yet is let
through: an outcome definition may be agreed before its contract is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from valueproof.contracts.tables import contracts
from valueproof.metering.schema import FieldError
from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.claim_records import ClaimResult
from valueproof.tenancy.tables import accounts

__all__ = ["submit_under_contracts"]


def submit_under_contracts(
    connection: Connection,
    tenant_id: int,
    items: Sequence[Any],
    now: datetime,
    passphrase: str | None,
) -> list[ClaimResult]:
    """`submit_claims`, with each claim whose contract belongs to another account rejected in
    its place (nothing recorded for it)."""
    owners = _owners(connection, tenant_id, items)
    known = _known_accounts(connection, tenant_id, items)
    kept: list[tuple[int, Any]] = []
    results: dict[int, ClaimResult] = {}
    for index, item in enumerate(items):
        refused = _refusal(index, item, owners, known)
        if refused is None:
            kept.append((index, item))
        else:
            results[index] = refused
    taken = submit_claims(connection, tenant_id, [item for _, item in kept], now, passphrase)
    for result in taken:
        place = kept[result.index][0]
        results[place] = replace(result, index=place)
    return [results[index] for index in range(len(items))]


def _owners(connection: Connection, tenant_id: int, items: Sequence[Any]) -> dict[str, str]:
    """Contract key -> its account's external id, for the keys the items name."""
    keys = {
        item["contract"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("contract"), str)
    }
    if not keys:
        return {}
    rows = connection.execute(
        select(contracts.c.key, accounts.c.external_id)
        .join(accounts, accounts.c.id == contracts.c.account_id)
        .where(contracts.c.tenant_id == tenant_id, contracts.c.key.in_(sorted(keys)))
    )
    return {row.key: row.external_id for row in rows}


def _known_accounts(connection: Connection, tenant_id: int, items: Sequence[Any]) -> set[str]:
    """Which of the accounts the items name exist in the tenant."""
    named = {
        item["account"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("account"), str)
    }
    if not named:
        return set()
    rows = connection.execute(
        select(accounts.c.external_id).where(
            accounts.c.tenant_id == tenant_id, accounts.c.external_id.in_(sorted(named))
        )
    )
    return {row.external_id for row in rows}


def _refusal(index: int, item: Any, owners: dict[str, str], known: set[str]) -> ClaimResult | None:
    if not isinstance(item, dict):
        return None
    contract, account = item.get("contract"), item.get("account")
    owner = owners.get(contract) if isinstance(contract, str) else None
    if owner is None or not isinstance(account, str) or account == owner:
        return None
    claim_id = item.get("id") if isinstance(item.get("id"), str) else None
    if account not in known:
        reason = f"no account {account!r} exists; contract {contract!r} belongs to {owner!r}"
    else:
        reason = f"contract {contract!r} belongs to account {owner!r}, not to {account!r}"
    return ClaimResult(index, claim_id, "rejected", (FieldError("account", reason),))
