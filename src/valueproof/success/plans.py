"""Success plans: the actions vendor and customer agreed, each version a row and a ledger leaf.

A dispute then shows what the customer agreed to do and whether it did it by the due date
(`adherence`). Who may change what: the vendor anything; the customer only its own actions,
and of an agreed action only its status and evidence. Missed is derived, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlalchemy import Connection, Row, Select, func, insert, select

from valueproof.documents import load_document
from valueproof.errors import (
    DocumentUnreadable,
    InvalidInput,
    NotFound,
    field_path,
    validation_reason,
)
from valueproof.ledger import log as ledger_log
from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.leaves import leaf_bytes
from valueproof.metering.definitions import KEY_PATTERN
from valueproof.periods import format_micros, parse_rfc3339, to_micros
from valueproof.success.errors import PlanChangeForbidden
from valueproof.success.tables import success_plan_actions
from valueproof.tenancy.tables import accounts

__all__ = [
    "SUCCESS_PLAN_ACTION",
    "Action",
    "ActionDocument",
    "Adherence",
    "AdherenceItem",
    "StoredAction",
    "action_data",
    "action_json",
    "action_leaf",
    "action_rows",
    "adherence",
    "adherence_json",
    "adherence_of",
    "check_change",
    "deadline_us",
    "history",
    "latest_action",
    "next_action",
    "parse_action",
    "plan",
    "plan_json",
    "put_action",
    "read_action",
    "set_action",
    "standing",
    "stored_action",
]

SUCCESS_PLAN_ACTION = "success_plan_action"
_RECORD_VERSION = 1
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The due day must have a next day (its deadline) and a place on the microsecond clock.
_FIRST_DUE = date(1970, 1, 1)
_LAST_DUE = date(9998, 12, 31)

Owner = Literal["vendor", "customer"]
Party = Literal["vendor", "customer"]
ActionStatus = Literal["planned", "in_progress", "done", "dropped"]
Status = Literal["created", "changed", "unchanged"]
# Where an action stands at a moment: not yet due, or due and done on time, late, not at all
# (missed), or dropped.
Standing = Literal["not_due", "on_time", "late", "missed", "dropped"]
Evidence = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ActionDocument(BaseModel):
    """An action of a success plan as a party sends it (`done_at` is the server's to set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=KEY_PATTERN, description="Unique per account.")
    title: str = Field(min_length=1, max_length=300)
    owner: Owner = Field(description="Who agreed to do it.")
    due: date = Field(description="ISO date (YYYY-MM-DD); done on time means by its end, UTC.")
    status: ActionStatus = "planned"
    evidence: tuple[Evidence, ...] = Field(
        default=(), max_length=50, description="Short notes or URLs showing what was done."
    )

    @field_validator("due", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        # An ISO date only: pydantic alone would also take numbers (as Unix times) and datetimes.
        if isinstance(value, str) and _ISO_DATE.match(value):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not a calendar date") from None
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError("must be an ISO date (YYYY-MM-DD)")
        if not _FIRST_DUE <= value <= _LAST_DUE:
            raise ValueError(f"must be between {_FIRST_DUE} and {_LAST_DUE}")
        return value


@dataclass(frozen=True, slots=True)
class Action:
    """An action as recorded at one version: the agreed document and when it was done."""

    key: str
    title: str
    owner: Owner
    due: date
    status: ActionStatus
    evidence: tuple[str, ...]
    done_at_us: int | None  # the server's clock when status became done; None unless done


@dataclass(frozen=True, slots=True)
class StoredAction:
    """One version of an action, who made it and when, and its leaf."""

    account: str  # the account's external id
    action: Action
    version: int
    changed_by: Party
    changed_us: int
    leaf_index: int


@dataclass(frozen=True, slots=True)
class AdherenceItem:
    """A due customer action and where it stood."""

    action: StoredAction
    standing: Standing


@dataclass(frozen=True, slots=True)
class Adherence:
    """The customer's actions due by `as_of_us` (their due day over) and where each stood."""

    account: str
    as_of_us: int
    items: tuple[AdherenceItem, ...]

    def count(self, standing: Standing) -> int:
        return sum(1 for item in self.items if item.standing == standing)


# --- reading documents ---------------------------------------------------------------------------


def parse_action(data: Any) -> ActionDocument:
    """Validate an action document; InvalidInput names the first offending field."""
    if not isinstance(data, dict):
        raise InvalidInput("(document)", "an action is a mapping (YAML or JSON object)")
    if "done_at" in data:
        raise InvalidInput("done_at", "is set by the server when status becomes 'done'")
    try:
        return ActionDocument.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        reason = validation_reason(first)
        raise InvalidInput(field_path(first["loc"]) or "(document)", reason) from None


def action_data(text: str) -> Any:
    """The data of an action document written as JSON or YAML, not yet validated."""
    try:
        return load_document(text)
    except DocumentUnreadable as error:
        raise InvalidInput("(document)", str(error)) from None


def read_action(text: str) -> ActionDocument:
    """Parse an action document written as JSON or YAML, then validate it."""
    return parse_action(action_data(text))


# --- the rules (pure) ----------------------------------------------------------------------------


def check_change(before: Action | None, after: ActionDocument, party: Party) -> None:
    """PlanChangeForbidden unless `party` may make this change; the vendor may make any."""
    if party == "vendor":
        return
    if before is None:
        if after.owner != "customer":
            raise PlanChangeForbidden("owner", "a customer may create only its own actions")
        return
    if before.owner != "customer":
        raise PlanChangeForbidden(
            "owner", "this action is the vendor's; a customer may not change it"
        )
    for name in ("title", "due", "owner"):
        if getattr(before, name) != getattr(after, name):
            reason = "a customer may change only the status and evidence of an agreed action"
            raise PlanChangeForbidden(name, reason)


def next_action(before: Action | None, document: ActionDocument, now_us: int) -> Action:
    """The action `document` makes of `before`: done_at is kept while it stays done."""
    done_at = None
    if document.status == "done":
        kept = before.done_at_us if before is not None and before.status == "done" else None
        done_at = now_us if kept is None else kept
    return Action(
        document.key,
        document.title,
        document.owner,
        document.due,
        document.status,
        tuple(document.evidence),
        done_at,
    )


def deadline_us(due: date) -> int:
    """The end of the due day, UTC: done before it is done on time."""
    return to_micros(datetime.combine(due + timedelta(days=1), time(), UTC))


def standing(action: Action, as_of_us: int) -> Standing:
    """Where the action stood at `as_of_us`: missed is due passed and not done."""
    deadline = deadline_us(action.due)
    if as_of_us < deadline:
        return "not_due"
    if action.status == "done":
        on_time = action.done_at_us is not None and action.done_at_us < deadline
        return "on_time" if on_time else "late"
    if action.status == "dropped":
        return "dropped"
    return "missed"


def adherence_of(account: str, actions: Sequence[StoredAction], as_of_us: int) -> Adherence:
    """The customer's due actions of a plan (as it stood at `as_of_us`), by due date then key."""
    items = [
        AdherenceItem(stored, found)
        for stored in sorted(actions, key=lambda s: (s.action.due, s.action.key))
        if stored.action.owner == "customer"
        and (found := standing(stored.action, as_of_us)) != "not_due"
    ]
    return Adherence(account, as_of_us, tuple(items))


# --- the leaf ------------------------------------------------------------------------------------


def _record(action: Action) -> dict[str, Any]:
    return {
        "key": action.key,
        "title": action.title,
        "owner": action.owner,
        "due": action.due.isoformat(),
        "status": action.status,
        "evidence": list(action.evidence),
        "done_at": None if action.done_at_us is None else format_micros(action.done_at_us),
    }


def _action_of(record: dict[str, Any]) -> Action:
    done_at = record["done_at"]
    return Action(
        record["key"],
        record["title"],
        record["owner"],
        date.fromisoformat(record["due"]),
        record["status"],
        tuple(record["evidence"]),
        None if done_at is None else to_micros(parse_rfc3339(done_at)),
    )


def action_leaf(stored: StoredAction) -> bytes:
    """The canonical leaf of an action version (record schema version 1)."""
    record = {
        "account": stored.account,
        "action": stored.action.key,
        "version": stored.version,
        "changed_by": stored.changed_by,
        "changed_at": format_micros(stored.changed_us),
        "document": _record(stored.action),
    }
    return leaf_bytes(SUCCESS_PLAN_ACTION, _RECORD_VERSION, record)


# --- the store -----------------------------------------------------------------------------------


def action_rows(tenant_id: int) -> Select[Any]:
    """The select of a tenant's action versions with their account's external id."""
    return (
        select(success_plan_actions, accounts.c.external_id)
        .join(accounts, accounts.c.id == success_plan_actions.c.account_id)
        .where(success_plan_actions.c.tenant_id == tenant_id)
    )


def stored_action(row: Row[Any]) -> StoredAction:
    """A row of `action_rows` as a StoredAction."""
    return StoredAction(
        row.external_id,
        _action_of(orjson.loads(row.document)),
        row.version,
        row.changed_by,
        row.changed_us,
        row.leaf_index,
    )


def latest_action(
    connection: Connection, tenant_id: int, account_id: int, key: str
) -> StoredAction | None:
    """The latest version of the account's action `key`, if there is one."""
    t = success_plan_actions.c
    row = connection.execute(
        action_rows(tenant_id)
        .where(t.account_id == account_id, t.action == key)
        .order_by(t.version.desc())
        .limit(1)
    ).first()
    return None if row is None else stored_action(row)


def put_action(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    document: ActionDocument,
    party: Party,
    now_us: int,
) -> StoredAction:
    """Record the action as a new version (row and leaf) unless it is unchanged, in which case
    the latest version is returned. The caller holds the tenant lock; PlanChangeForbidden when
    `party` may not make the change, with nothing recorded."""
    latest = latest_action(connection, tenant_id, account_id, document.key)
    before = None if latest is None else latest.action
    check_change(before, document, party)
    action = next_action(before, document, now_us)
    if latest is not None and action == latest.action:
        return latest
    stored = StoredAction(
        _external_id(connection, tenant_id, account_id),
        action,
        1 if latest is None else latest.version + 1,
        party,
        now_us,
        -1,
    )
    leaf_index = ledger_log.append(connection, tenant_id, [action_leaf(stored)], now_us)
    connection.execute(
        insert(success_plan_actions).values(
            tenant_id=tenant_id,
            account_id=account_id,
            action=action.key,
            version=stored.version,
            document=canonical_json(_record(action)).decode(),
            changed_by=party,
            changed_us=now_us,
            leaf_index=leaf_index,
        )
    )
    return replace(stored, leaf_index=leaf_index)


def set_action(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    document: ActionDocument,
    party: Party,
    now_us: int,
) -> tuple[Status, StoredAction]:
    """`put_action`, saying whether it created the action, changed it or left it unchanged."""
    before = latest_action(connection, tenant_id, account_id, document.key)
    after = put_action(connection, tenant_id, account_id, document, party, now_us)
    if before is None:
        return "created", after
    return ("unchanged" if after.version == before.version else "changed"), after


def plan(
    connection: Connection, tenant_id: int, account_id: int, as_of_us: int | None = None
) -> list[StoredAction]:
    """Each of the account's actions at its latest version at or before `as_of_us` (default:
    now), in key order; an action created later is not there."""
    t = success_plan_actions.c
    newest = select(t.action, func.max(t.version).label("version")).where(
        t.tenant_id == tenant_id, t.account_id == account_id
    )
    if as_of_us is not None:
        newest = newest.where(t.changed_us <= as_of_us)
    latest = newest.group_by(t.action).subquery()
    query = (
        action_rows(tenant_id)
        .join(latest, (latest.c.action == t.action) & (latest.c.version == t.version))
        .where(t.account_id == account_id)
        .order_by(t.action)
    )
    return [stored_action(row) for row in connection.execute(query)]


def history(
    connection: Connection, tenant_id: int, account_id: int, action: str
) -> list[StoredAction]:
    """Every version of the account's action, oldest first; NotFound when there is none."""
    t = success_plan_actions.c
    rows = connection.execute(
        action_rows(tenant_id)
        .where(t.account_id == account_id, t.action == action)
        .order_by(t.version)
    )
    found = [stored_action(row) for row in rows]
    if not found:
        raise NotFound(f"no action {action!r} in this account's success plan")
    return found


def adherence(connection: Connection, tenant_id: int, account_id: int, as_of_us: int) -> Adherence:
    """Of the customer's actions due by `as_of_us` in the plan as it stood then: which were
    done on time, done late, missed or dropped."""
    actions = plan(connection, tenant_id, account_id, as_of_us)
    account = actions[0].account if actions else _external_id(connection, tenant_id, account_id)
    return adherence_of(account, actions, as_of_us)


def _external_id(connection: Connection, tenant_id: int, account_id: int) -> str:
    found = connection.execute(
        select(accounts.c.external_id).where(
            accounts.c.tenant_id == tenant_id, accounts.c.id == account_id
        )
    ).scalar()
    if found is None:
        raise NotFound(f"no account with id {account_id}")
    return str(found)


# --- JSON ----------------------------------------------------------------------------------------


def action_json(stored: StoredAction) -> dict[str, Any]:
    """An action version as the API and the CLI print it."""
    return {
        **_record(stored.action),
        "version": stored.version,
        "changed_by": stored.changed_by,
        "changed_at": format_micros(stored.changed_us),
        "leaf_index": stored.leaf_index,
    }


def adherence_json(found: Adherence) -> dict[str, Any]:
    """Adherence as a dispute shows it: the counts, then each due customer action."""
    return {
        "account": found.account,
        "as_of": format_micros(found.as_of_us),
        "due": len(found.items),
        "done_on_time": found.count("on_time"),
        "done_late": found.count("late"),
        "missed": found.count("missed"),
        "dropped": found.count("dropped"),
        "actions": [
            {**action_json(item.action), "standing": item.standing} for item in found.items
        ],
    }


def plan_json(actions: Sequence[StoredAction], found: Adherence) -> dict[str, Any]:
    """A plan at `found.as_of_us`: every action (`missed` derived then) and the adherence."""
    return {
        "account": found.account,
        "as_of": format_micros(found.as_of_us),
        "actions": [
            {**action_json(s), "missed": standing(s.action, found.as_of_us) == "missed"}
            for s in actions
        ],
        "adherence": adherence_json(found),
    }
