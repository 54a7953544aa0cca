"""Stored contract versions rebuilt as ledger leaves: what `valueproof ledger audit` checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Row, Select, select

from valueproof.contracts.records import CONTRACT_VERSION, contract_version_leaf
from valueproof.contracts.tables import contract_versions, contracts
from valueproof.ledger.audit import LedgeredRecord

__all__ = ["ContractVersionSource"]


class ContractVersionSource:
    """The audit's view of contract versions: each version, its leaf, its leaf rebuilt."""

    record_type = CONTRACT_VERSION

    def key_of(self, record: dict[str, object]) -> str:
        return f"{record.get('contract')}@{record.get('version')}"

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored version, in leaf order."""
        rows = connection.execute(self._query(tenant_id).order_by(contract_versions.c.leaf_index))
        for row in rows:
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored version named `contract@version`, if there is one."""
        contract, _, number = key.rpartition("@")
        if not number.isdigit():
            return None
        row = connection.execute(
            self._query(tenant_id).where(
                contracts.c.key == contract, contract_versions.c.version == int(number)
            )
        ).first()
        return None if row is None else self._rebuilt(row)

    def _query(self, tenant_id: int) -> Select[Any]:
        return (
            select(
                contracts.c.key,
                contract_versions.c.version,
                contract_versions.c.document,
                contract_versions.c.leaf_index,
            )
            .join(contracts, contracts.c.id == contract_versions.c.contract_id)
            .where(contract_versions.c.tenant_id == tenant_id)
        )

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        leaf = contract_version_leaf(orjson.loads(row.document), row.version)
        return LedgeredRecord(f"{row.key}@{row.version}", row.leaf_index, leaf)
