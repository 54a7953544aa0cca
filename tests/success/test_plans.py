"""Tests for success/plans.py: versions and no-ops, a past state, adherence (the pure
classification under hypothesis too), who may change what, bad input naming the field, nothing
recorded on a refused change, and the audit rebuilding every leaf."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, update

from valueproof.errors import InvalidInput, NotFound
from valueproof.ledger import log as ledger_log
from valueproof.ledger.audit import audit
from valueproof.ledger.leaves import parse_leaf
from valueproof.periods import to_micros
from valueproof.store import read, tenant_lock, write
from valueproof.success.errors import PlanChangeForbidden
from valueproof.success.plans import (
    Action,
    Party,
    StoredAction,
    adherence,
    adherence_json,
    adherence_of,
    deadline_us,
    history,
    parse_action,
    plan,
    put_action,
    read_action,
    set_action,
    standing,
)
from valueproof.success.plans_source import SuccessPlanActionSource
from valueproof.success.tables import success_plan_actions
from valueproof.tenancy.accounts import AccountCreate, account_id, create_account
from valueproof.tenancy.tenants import Tenant

SOURCES = (SuccessPlanActionSource(),)
DAY = 86_400 * 1_000_000
T0 = to_micros(datetime(2026, 11, 1, tzinfo=UTC))  # the plan is agreed on this day


def doc(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "title": f"Do {key}",
        "owner": "customer",
        "due": "2026-11-10",
        "status": "planned",
        **fields,
    }


def put(
    engine: Engine, tenant: Tenant, account: int, document: dict[str, Any], party: Party, at: int
) -> tuple[str, StoredAction]:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        return set_action(connection, tenant.id, account, parse_action(document), party, at)


@pytest.fixture
def acme(engine: Engine, tenant: Tenant) -> int:
    """The id of account acme of the test's tenant (and an account globex beside it)."""
    with write(engine) as connection:
        create_account(connection, tenant.id, AccountCreate(external_id="globex", name="Globex"))
        return create_account(
            connection, tenant.id, AccountCreate(external_id="acme", name="Acme")
        ).id


def log_size(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        return ledger_log.log_size(connection, tenant.id)


def test_a_change_is_a_new_version_and_leaf_and_the_same_document_a_no_op(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    first = put(engine, tenant, acme, doc("sso"), "vendor", T0)
    again = put(engine, tenant, acme, doc("sso"), "customer", T0 + 1)
    started = put(engine, tenant, acme, doc("sso", status="in_progress"), "customer", T0 + 2)
    assert [status for status, _ in (first, again, started)] == ["created", "unchanged", "changed"]
    assert again[1] == first[1]
    with read(engine) as connection:
        versions = history(connection, tenant.id, acme, "sso")
        leaf = parse_leaf(ledger_log.entry(connection, tenant.id, started[1].leaf_index))
        assert ledger_log.log_size(connection, tenant.id) == 2
        assert audit(connection, tenant.id, SOURCES, ()).ok
    assert [(v.version, v.changed_by, v.action.status) for v in versions] == [
        (1, "vendor", "planned"),
        (2, "customer", "in_progress"),
    ]
    assert leaf.record_type == "success_plan_action"
    assert leaf.record == {
        "account": "acme",
        "action": "sso",
        "version": 2,
        "changed_by": "customer",
        "changed_at": "2026-11-01T00:00:00.000002Z",
        "document": {
            "key": "sso",
            "title": "Do sso",
            "owner": "customer",
            "due": "2026-11-10",
            "status": "in_progress",
            "evidence": [],
            "done_at": None,
        },
    }


def test_done_at_is_the_servers_clock_and_stays_while_the_action_stays_done(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    put(engine, tenant, acme, doc("sso"), "vendor", T0)
    _, done = put(engine, tenant, acme, doc("sso", status="done"), "customer", T0 + DAY)
    evidence = doc("sso", status="done", evidence=["https://example.com/sso-live"])
    _, proved = put(engine, tenant, acme, evidence, "customer", T0 + 2 * DAY)
    _, reopened = put(
        engine, tenant, acme, doc("sso", status="in_progress"), "vendor", T0 + 3 * DAY
    )
    assert done.action.done_at_us == proved.action.done_at_us == T0 + DAY
    assert proved.action.evidence == ("https://example.com/sso-live",)
    assert reopened.action.done_at_us is None
    with pytest.raises(InvalidInput) as refused:
        parse_action(doc("sso", status="done", done_at="2026-11-02T00:00:00Z"))
    assert refused.value.field == "done_at"


def test_the_plan_at_a_past_moment_shows_each_action_as_it_stood(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    put(engine, tenant, acme, doc("sso"), "vendor", T0)
    put(engine, tenant, acme, doc("import", owner="vendor"), "vendor", T0 + DAY)
    put(engine, tenant, acme, doc("sso", status="done"), "customer", T0 + 2 * DAY)
    with read(engine) as connection:
        before = plan(connection, tenant.id, acme, T0 - 1)
        first_day = plan(connection, tenant.id, acme, T0 + DAY - 1)
        second_day = plan(connection, tenant.id, acme, T0 + DAY)
        now = plan(connection, tenant.id, acme)
    assert before == []
    assert [(s.action.key, s.action.status) for s in first_day] == [("sso", "planned")]
    assert [(s.action.key, s.action.status) for s in second_day] == [
        ("import", "planned"),
        ("sso", "planned"),
    ]
    assert [(s.action.key, s.action.status, s.version) for s in now] == [
        ("import", "planned", 1),
        ("sso", "done", 2),
    ]


def test_adherence_counts_the_customers_due_actions_on_time_late_missed_and_dropped(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    """The seed's question: had the customer implemented the success plan?"""
    agreed = [
        doc("sso", due="2026-11-05"),  # done on its due day: on time
        doc("training", due="2026-11-05"),  # done two days late
        doc("data_feed", due="2026-11-08"),  # never done: missed
        doc("pilot", due="2026-11-08"),  # dropped
        doc("rollout", due="2026-12-01"),  # not yet due
        doc("kickoff", owner="vendor", due="2026-11-02"),  # the vendor's: not counted
    ]
    for document in agreed:
        put(engine, tenant, acme, document, "vendor", T0)
    five = to_micros(datetime(2026, 11, 5, 23, 59, tzinfo=UTC))
    put(engine, tenant, acme, doc("sso", due="2026-11-05", status="done"), "customer", five)
    late = five + 2 * DAY
    put(engine, tenant, acme, doc("training", due="2026-11-05", status="done"), "customer", late)
    put(engine, tenant, acme, doc("pilot", due="2026-11-08", status="dropped"), "vendor", late)
    as_of = to_micros(datetime(2026, 11, 20, tzinfo=UTC))
    with read(engine) as connection:
        found = adherence(connection, tenant.id, acme, as_of)
        earlier = adherence(connection, tenant.id, acme, five + DAY)
    shown = adherence_json(found)
    assert {k: shown[k] for k in ("due", "done_on_time", "done_late", "missed", "dropped")} == {
        "due": 4,
        "done_on_time": 1,
        "done_late": 1,
        "missed": 1,
        "dropped": 1,
    }
    assert [(a["key"], a["standing"]) for a in shown["actions"]] == [
        ("sso", "on_time"),
        ("training", "late"),
        ("data_feed", "missed"),
        ("pilot", "dropped"),
    ]
    assert (shown["account"], shown["as_of"]) == ("acme", "2026-11-20T00:00:00Z")
    # On 6 November the plan stood otherwise: training not yet done, so missed by then.
    assert [(i.action.action.key, i.standing) for i in earlier.items] == [
        ("sso", "on_time"),
        ("training", "missed"),
    ]


def test_a_customer_may_change_only_status_and_evidence_of_its_own_actions(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    put(engine, tenant, acme, doc("sso"), "vendor", T0)
    put(engine, tenant, acme, doc("import", owner="vendor"), "vendor", T0)
    size = log_size(engine, tenant)
    refused = {
        "due": doc("sso", due="2026-12-31"),
        "title": doc("sso", title="Something easier"),
        "owner": doc("sso", owner="vendor"),
    }
    for field, document in refused.items():
        with pytest.raises(PlanChangeForbidden) as error:
            put(engine, tenant, acme, document, "customer", T0 + 1)
        assert error.value.field == field and error.value.status == 403
    with pytest.raises(PlanChangeForbidden) as vendors:
        put(engine, tenant, acme, doc("import", owner="vendor", status="done"), "customer", T0 + 1)
    with pytest.raises(PlanChangeForbidden) as new_for_vendor:
        put(engine, tenant, acme, doc("onboarding", owner="vendor"), "customer", T0 + 1)
    assert (vendors.value.field, new_for_vendor.value.field) == ("owner", "owner")
    assert "vendor's" in str(vendors.value)
    # Nothing of the refused changes is on record: no leaf, no row.
    assert log_size(engine, tenant) == size
    with read(engine) as connection:
        assert [(s.action.key, s.version) for s in plan(connection, tenant.id, acme)] == [
            ("import", 1),
            ("sso", 1),
        ]
    # What the customer may do: its own new action, status and evidence of its own.
    assert put(engine, tenant, acme, doc("champion"), "customer", T0 + 2)[0] == "created"
    changed = doc("sso", status="in_progress", evidence=["ticket 42"])
    assert put(engine, tenant, acme, changed, "customer", T0 + 2)[0] == "changed"
    # The vendor may change anything.
    assert put(engine, tenant, acme, doc("sso", due="2026-12-31"), "vendor", T0 + 3)[0] == "changed"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (doc("sso", due="10/11/2026"), "due"),
        (doc("sso", due="2026-02-30"), "due"),
        (doc("sso", due=1_763_000_000), "due"),
        (doc("sso", due="2026-11-10T00:00:00Z"), "due"),
        (doc("sso", owner="partner"), "owner"),
        (doc("sso", status="finished"), "status"),
        (doc("sso", evidence=["ok", ""]), "evidence[1]"),
        (doc("sso", title=""), "title"),
        (doc("not a key"), "key"),
        ({**doc("sso"), "colour": "red"}, "colour"),
        ({k: v for k, v in doc("sso").items() if k != "title"}, "title"),
        ([doc("sso")], "(document)"),
    ],
)
def test_bad_input_names_the_field(document: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_action(document)
    assert error.value.field == field


def test_yaml_documents_read_like_json() -> None:
    text = "key: sso\ntitle: Turn on SSO\nowner: customer\ndue: 2026-11-10\nevidence: [a]\n"
    assert read_action(text) == parse_action({**doc("sso", title="Turn on SSO"), "evidence": ["a"]})
    with pytest.raises(InvalidInput) as error:
        read_action("key: [unclosed")
    assert error.value.field == "(document)"


def test_another_account_and_an_unknown_action_are_not_found(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    put(engine, tenant, acme, doc("sso"), "vendor", T0)
    with read(engine) as connection:
        globex = account_id(connection, tenant.id, "globex")
        assert plan(connection, tenant.id, globex) == []
        with pytest.raises(NotFound):
            history(connection, tenant.id, globex, "sso")
        with pytest.raises(NotFound):
            history(connection, tenant.id, acme, "nothing")
        assert adherence(connection, tenant.id, acme, T0).items == ()
        with pytest.raises(NotFound):
            adherence(connection, tenant.id, 10**9, T0)


def test_the_audit_rebuilds_every_version_and_finds_an_edited_one(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    put(engine, tenant, acme, doc("sso"), "vendor", T0)
    put(engine, tenant, acme, doc("sso", status="done"), "customer", T0 + DAY)
    source = SuccessPlanActionSource()
    with read(engine) as connection:
        assert audit(connection, tenant.id, SOURCES, ()).ok
        found = source.find(connection, tenant.id, "acme/sso@2")
        assert found is not None and found.leaf_index == 1
        assert source.find(connection, tenant.id, "acme/sso@x") is None
    # The customer's action rewritten as done before its due date, after the fact.
    with write(engine) as connection:
        connection.execute(
            update(success_plan_actions)
            .where(
                success_plan_actions.c.tenant_id == tenant.id,
                success_plan_actions.c.version == 2,
            )
            .values(changed_by="vendor")
        )
    with read(engine) as connection:
        report = audit(connection, tenant.id, SOURCES, ())
    assert [(f.kind, f.record) for f in report.findings] == [("edited", "acme/sso@2")]


def test_put_action_returns_the_version_on_record(
    engine: Engine, tenant: Tenant, acme: int
) -> None:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        first = put_action(connection, tenant.id, acme, parse_action(doc("sso")), "vendor", T0)
        same = put_action(connection, tenant.id, acme, parse_action(doc("sso")), "vendor", T0 + 1)
    assert first == same and (first.version, first.leaf_index, first.account) == (1, 0, "acme")


# --- the pure classification ---------------------------------------------------------------------

dues = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
statuses = st.sampled_from(["planned", "in_progress", "done", "dropped"])
offsets = st.integers(min_value=-400 * DAY, max_value=400 * DAY)


@st.composite
def actions(draw: st.DrawFn) -> Action:
    due = draw(dues)
    status = draw(statuses)
    done_at = deadline_us(due) + draw(offsets) if status == "done" else None
    owner = draw(st.sampled_from(["customer", "vendor"]))
    return Action("a", "A", owner, due, status, (), done_at)


@given(actions(), offsets)
def test_standing_is_not_due_before_the_due_day_ends_then_fixed_by_status(
    action: Action, offset: int
) -> None:
    as_of = deadline_us(action.due) + offset
    found = standing(action, as_of)
    if offset < 0:
        assert found == "not_due"
    elif action.status == "done":
        assert action.done_at_us is not None
        assert found == ("on_time" if action.done_at_us < deadline_us(action.due) else "late")
    else:
        assert found == {"dropped": "dropped"}.get(action.status, "missed")
    # Once due, where an unchanged action stands no longer moves with time.
    if found != "not_due":
        assert standing(action, as_of + DAY) == found


@given(st.lists(actions(), max_size=20), offsets)
def test_adherence_counts_every_due_customer_action_once(listed: list[Action], offset: int) -> None:
    as_of = to_micros(datetime(2050, 1, 1, tzinfo=UTC)) + offset
    stored = [StoredAction("acme", a, 1, "vendor", 0, i) for i, a in enumerate(listed)]
    found = adherence_of("acme", stored, as_of)
    due = [a for a in listed if a.owner == "customer" and standing(a, as_of) != "not_due"]
    assert len(found.items) == len(due)
    counts = [found.count(s) for s in ("on_time", "late", "missed", "dropped")]
    assert sum(counts) == len(due)
    shown = adherence_json(found)
    assert shown["due"] == len(due) == len(shown["actions"])


def test_the_due_day_ends_at_midnight_utc() -> None:
    assert deadline_us(date(2026, 11, 10)) == to_micros(datetime(2026, 11, 11, tzinfo=UTC))
    action = Action("a", "A", "customer", date(2026, 11, 10), "planned", (), None)
    last = to_micros(datetime(2026, 11, 11, tzinfo=UTC) - timedelta(microseconds=1))
    assert standing(action, last) == "not_due"
    assert standing(action, last + 1) == "missed"
