"""Stored success-plan actions rebuilt as ledger leaves: what the audit checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Row

from valueproof.ledger.audit import LedgeredRecord
from valueproof.success.plans import SUCCESS_PLAN_ACTION, action_leaf, action_rows, stored_action
from valueproof.success.tables import success_plan_actions
from valueproof.tenancy.tables import accounts

__all__ = ["SuccessPlanActionSource"]


def _key(account: object, action: object, version: object) -> str:
    # An account's external id may hold `@` but never `/`; an action key holds neither.
    return f"{account}/{action}@{version}"


class SuccessPlanActionSource:
    """The audit's view of success plans: each action version, its leaf rebuilt."""

    record_type = SUCCESS_PLAN_ACTION

    def key_of(self, record: dict[str, object]) -> str:
        return _key(record.get("account"), record.get("action"), record.get("version"))

    def records(self, connection: Connection, tenant_id: int) -> Iterator[LedgeredRecord]:
        """Every stored version, in leaf order."""
        query = action_rows(tenant_id).order_by(success_plan_actions.c.leaf_index)
        for row in connection.execute(query):
            yield self._rebuilt(row)

    def find(self, connection: Connection, tenant_id: int, key: str) -> LedgeredRecord | None:
        """The stored version named `account/action@version`, if there is one."""
        names, _, version = key.rpartition("@")
        account, _, action = names.partition("/")
        if not version.isdigit():
            return None
        t = success_plan_actions.c
        row = connection.execute(
            action_rows(tenant_id).where(
                accounts.c.external_id == account, t.action == action, t.version == int(version)
            )
        ).first()
        return None if row is None else self._rebuilt(row)

    def _rebuilt(self, row: Row[Any]) -> LedgeredRecord:
        stored = stored_action(row)
        key = _key(stored.account, stored.action.key, stored.version)
        return LedgeredRecord(key, stored.leaf_index, action_leaf(stored))
