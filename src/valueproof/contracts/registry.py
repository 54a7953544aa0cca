"""Stored contracts: apply a document (a new version, on the ledger first), read versions back.

A version is never changed once stored. Applying a document identical to the latest version is
a no-op; anything else is checked whole against the tenant's catalogue and the contract's
history, then stored with its leaf in the caller's transaction, or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, insert, select

from valueproof.contracts.document import ContractDocument, Metered, Percentage, Seats
from valueproof.contracts.errors import ContractInvalid
from valueproof.contracts.records import contract_version_leaf, document_json, document_text
from valueproof.contracts.references import (
    Registered,
    did_you_mean,
    pending_warnings,
    reference_problems,
)
from valueproof.contracts.tables import contract_versions, contracts
from valueproof.contracts.validation import compile_contract
from valueproof.errors import Conflict, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.metering.definitions import Aggregation
from valueproof.metering.registry import Catalog
from valueproof.outcomes.definition_store import defined_outcomes
from valueproof.outcomes.expressions import CEL_ERRORS
from valueproof.outcomes.oracles import metrics
from valueproof.periods import billing_period_at, format_rfc3339, from_micros, to_micros
from valueproof.tenancy.accounts import account_id as account_id_of
from valueproof.tenancy.accounts import account_ids
from valueproof.tenancy.tables import accounts

Status = Literal["created", "amended", "unchanged"]


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One version of a contract as stored: its document and its place on the ledger."""

    contract: str
    account: str
    account_id: int
    version: int
    effective: datetime
    document: ContractDocument
    leaf_index: int
    created_us: int


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying did, and the warnings of names declared pending that are still undefined."""

    status: Status
    version: StoredVersion
    warnings: tuple[tuple[str, str], ...] = ()


def apply_contract(
    connection: Connection,
    tenant_id: int,
    document: ContractDocument,
    catalog: Catalog,
    now_us: int,
) -> Applied:
    """Store `document` as the contract's next version (the caller holds the tenant lock)."""
    row = _contract_row(connection, tenant_id, document.contract)
    history = [] if row is None else versions(connection, tenant_id, document.contract)
    registered = registered_names(connection, tenant_id)
    warnings = tuple(pending_warnings(document, registered))
    if history and history[-1].document == document:
        return Applied("unchanged", history[-1], warnings)
    account_id = account_id_of(connection, tenant_id, document.account)
    if row is not None and row.account_id != account_id:
        raise Conflict(f"contract {document.contract!r} belongs to another account")
    problems = _problems(connection, tenant_id, document, catalog, history, account_id)
    problems += reference_problems(document, registered)
    if problems:
        raise ContractInvalid(problems)
    if row is None:
        contract_id = connection.execute(
            insert(contracts).values(
                tenant_id=tenant_id,
                key=document.contract,
                account_id=account_id,
                created_us=now_us,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    else:
        contract_id = row.id
    number = len(history) + 1
    stored = document_json(document)
    leaf = contract_version_leaf(stored, number)
    leaf_index = ledger_log.append(connection, tenant_id, [leaf], now_us)
    connection.execute(
        insert(contract_versions).values(
            contract_id=contract_id,
            version=number,
            tenant_id=tenant_id,
            effective_us=to_micros(document.starts),
            document=document_text(document),
            content_sha256=hashlib.sha256(leaf).digest(),
            leaf_index=leaf_index,
            created_us=now_us,
        )
    )
    version = StoredVersion(
        document.contract,
        document.account,
        account_id,
        number,
        document.starts,
        document,
        leaf_index,
        now_us,
    )
    return Applied("created" if number == 1 else "amended", version, warnings)


def registered_names(connection: Connection, tenant_id: int) -> Registered:
    """The outcome types and oracle metrics the tenant has defined, for `contracts.references`."""
    return Registered(
        outcomes=defined_outcomes(connection, tenant_id),
        metrics=frozenset(metrics(connection, tenant_id)),
    )


def catalog_problems(document: ContractDocument, catalog: Catalog) -> list[tuple[str, str]]:
    """What the document asks of the tenant's meters that they can't give."""
    problems: list[tuple[str, str]] = []
    compiled = compile_contract(document)
    for i, component in enumerate(document.components):
        at = f"components[{i}]"
        for field, key in _meters_named(component):
            meter = catalog.meters_by_key.get(key)
            if meter is None:
                hint = did_you_mean(key, catalog.meters_by_key)
                problems.append((f"{at}.{field}", f"unknown meter {key!r}{hint}"))
                continue
            aggregation = meter.meter.aggregation
            if isinstance(component, Percentage) and aggregation is not Aggregation.SUM:
                problems.append(
                    (
                        f"{at}.meter",
                        f"a percentage needs a sum meter of amounts; {key!r} is "
                        f"{aggregation.value}",
                    )
                )
        condition = compiled.filters.get(component.id)
        meter = catalog.meters_by_key.get(getattr(component, "meter", ""))
        if condition is not None and meter is not None:
            sample = {"group": {name: "" for name in meter.meter.group_by}}
            try:
                condition.program.execute(sample)
            except KeyError as error:
                grouped = ", ".join(meter.meter.group_by) or "nothing"
                problems.append(
                    (
                        f"{at}.filter",
                        f"reads {error.args[0]!r}, which meter {meter.meter.key!r} "
                        f"does not group by (group_by: {grouped})",
                    )
                )
            except CEL_ERRORS:
                pass  # depends on the values; rating reports it with the field
    return problems


def _meters_named(component: Any) -> Iterator[tuple[str, str]]:
    if isinstance(component, Metered):
        yield "meter", component.meter
    if isinstance(component, Seats):
        if component.seats_meter is not None:
            yield "seats_meter", component.seats_meter
        yield "active_meter", component.active_meter


def meters_named(document: ContractDocument) -> set[str]:
    """Every meter a contract document prices."""
    return {key for component in document.components for _, key in _meters_named(component)}


def contract_problems(
    connection: Connection, tenant_id: int, document: ContractDocument, catalog: Catalog
) -> list[tuple[str, str]]:
    """Everything applying `document` would refuse, without storing anything."""
    registered = registered_names(connection, tenant_id)
    row = _contract_row(connection, tenant_id, document.contract)
    history = [] if row is None else versions(connection, tenant_id, document.contract)
    account_id = account_ids(connection, tenant_id, [document.account]).get(document.account)
    problems = []
    if account_id is None:
        problems.append(("account", f"unknown account {document.account!r}"))
    elif row is not None and row.account_id != account_id:
        problems.append(("account", f"contract {document.contract!r} belongs to another account"))
    problems += _problems(connection, tenant_id, document, catalog, history, account_id)
    return problems + reference_problems(document, registered)


def contract_warnings(
    connection: Connection, tenant_id: int, document: ContractDocument
) -> list[tuple[str, str]]:
    """What applying `document` would warn of: names declared pending and still undefined."""
    return pending_warnings(document, registered_names(connection, tenant_id))


def _problems(
    connection: Connection,
    tenant_id: int,
    document: ContractDocument,
    catalog: Catalog,
    history: Sequence[StoredVersion],
    account_id: int | None,
) -> list[tuple[str, str]]:
    problems = catalog_problems(document, catalog) + _history_problems(document, history)
    if account_id is not None:
        problems += _overlap_problems(connection, tenant_id, account_id, document)
    return problems


def _contract_row(connection: Connection, tenant_id: int, key: str) -> Any:
    return connection.execute(
        select(contracts).where(contracts.c.tenant_id == tenant_id, contracts.c.key == key)
    ).first()


def _history_problems(
    document: ContractDocument, history: Sequence[StoredVersion]
) -> list[tuple[str, str]]:
    """An amendment keeps the currency and takes force at the start of a billing period."""
    if not history:
        return []
    problems = []
    first = history[0].document
    if document.currency != first.currency:
        problems.append(
            (
                "currency",
                f"currency mismatch: the contract is in {first.currency}; "
                f"{document.currency} needs a new contract",
            )
        )
    billing = document.billing
    period = billing_period_at(
        document.term.start, document.term.end, billing.period, billing.anchor_day, document.starts
    )
    if period is not None and period.start != document.starts:
        problems.append(
            (
                "effective_from",
                "an amendment takes force at the start of a billing period "
                f"(next: {format_rfc3339(period.end)})",
            )
        )
    return problems


def _overlap_problems(
    connection: Connection, tenant_id: int, account_id: int, document: ContractDocument
) -> list[tuple[str, str]]:
    """One contract at a time per account: terms of different contracts must not overlap."""
    others = connection.execute(
        select(contracts.c.key).where(
            contracts.c.tenant_id == tenant_id,
            contracts.c.account_id == account_id,
            contracts.c.key != document.contract,
        )
    ).scalars()
    return [
        ("term", f"overlaps contract {key!r} of account {document.account!r}")
        for key in others
        if _overlaps(versions(connection, tenant_id, key)[-1].document, document)
    ]


def _overlaps(left: ContractDocument, right: ContractDocument) -> bool:
    far = datetime.max.replace(tzinfo=left.term.start.tzinfo)
    return left.term.start < (right.term.end or far) and right.term.start < (left.term.end or far)


_VERSION_COLUMNS = (
    contracts.c.key,
    contracts.c.account_id,
    accounts.c.external_id,
    contract_versions.c.version,
    contract_versions.c.effective_us,
    contract_versions.c.document,
    contract_versions.c.leaf_index,
    contract_versions.c.created_us,
)


def _joined() -> Any:
    return (
        select(*_VERSION_COLUMNS)
        .join(contracts, contracts.c.id == contract_versions.c.contract_id)
        .join(accounts, accounts.c.id == contracts.c.account_id)
    )


def _stored(row: Any) -> StoredVersion:
    return StoredVersion(
        contract=row.key,
        account=row.external_id,
        account_id=row.account_id,
        version=row.version,
        effective=from_micros(row.effective_us),
        # Validated in full when applied; reading it back needs only the model.
        document=ContractDocument.model_validate_json(row.document),
        leaf_index=row.leaf_index,
        created_us=row.created_us,
    )


def versions(connection: Connection, tenant_id: int, key: str) -> list[StoredVersion]:
    """Every version of a contract, oldest first; NotFound if there is no such contract."""
    rows = connection.execute(
        _joined()
        .where(contracts.c.tenant_id == tenant_id, contracts.c.key == key)
        .order_by(contract_versions.c.version)
    ).all()
    if not rows:
        raise NotFound(f"no contract {key!r}")
    return [_stored(row) for row in rows]


def account_versions(
    connection: Connection, tenant_id: int, account_id: int
) -> list[StoredVersion]:
    """Every version of every contract of an account, in the order they were applied."""
    rows = connection.execute(
        _joined()
        .where(contracts.c.tenant_id == tenant_id, contracts.c.account_id == account_id)
        .order_by(contract_versions.c.leaf_index)
    )
    return [_stored(row) for row in rows]


def tenant_versions(connection: Connection, tenant_id: int) -> dict[int, list[StoredVersion]]:
    """Every contract version of the tenant by account id, each list in application order."""
    rows = connection.execute(
        _joined().where(contracts.c.tenant_id == tenant_id).order_by(contract_versions.c.leaf_index)
    )
    found: dict[int, list[StoredVersion]] = {}
    for row in rows:
        found.setdefault(row.account_id, []).append(_stored(row))
    return found


def list_contracts(
    connection: Connection, tenant_id: int, account: str | None = None
) -> list[StoredVersion]:
    """The latest version of each contract, by key; optionally of one account."""
    query = _joined().where(contracts.c.tenant_id == tenant_id)
    if account is not None:
        query = query.where(accounts.c.external_id == account)
    latest: dict[str, StoredVersion] = {}
    for row in connection.execute(query.order_by(contracts.c.key, contract_versions.c.version)):
        latest[row.key] = _stored(row)
    return list(latest.values())


def in_force(history: Sequence[StoredVersion], at: datetime) -> StoredVersion | None:
    """The version of an account's contracts that governs instant `at`, if any.

    Within a contract, the latest applied version whose effective date has come governs: an
    amendment effective earlier than one applied before it supersedes it from that date on. Of
    an account's contracts (their terms never overlap), the one whose term holds `at` counts.
    """
    governing: dict[str, StoredVersion] = {}
    for version in history:
        current = governing.get(version.contract)
        if version.effective <= at and (current is None or version.version > current.version):
            governing[version.contract] = version
    for version in governing.values():
        term = version.document.term
        if term.start <= at and (term.end is None or at < term.end):
            return version
    return None


def version_json(version: StoredVersion) -> dict[str, Any]:
    """A stored version as the API and the CLI show it."""
    return {
        "contract": version.contract,
        "account": version.account,
        "version": version.version,
        "effective_from": format_rfc3339(version.effective),
        "leaf_index": version.leaf_index,
        "created": format_rfc3339(from_micros(version.created_us)),
        "document": document_json(version.document),
    }
