"""Success plans over real HTTP: create, change and no-op (201/200/200), a past state via `at`,
adherence, the account's customer key within its rights, other accounts hidden (404), bad input
naming the field, and nothing recorded on a refused change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from valueproof.ledger import log as ledger_log
from valueproof.ledger.audit import audit
from valueproof.periods import format_rfc3339
from valueproof.store import read, write
from valueproof.success.plans_source import SuccessPlanActionSource
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant

PLAN = "/v1/accounts/acme/success-plan"
PAST = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
FUTURE = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


def action(**fields: Any) -> dict[str, Any]:
    return {"title": "Turn on SSO", "owner": "customer", "due": FUTURE, **fields}


def customer_key(engine: Engine, tenant: Tenant, external_id: str) -> str:
    with write(engine) as connection:
        account = get_account(connection, tenant.id, external_id)
        return create_api_key(
            connection, tenant.id, frozenset({Scope.CUSTOMER}), "portal", account.id
        ).token


def log_size(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        return ledger_log.log_size(connection, tenant.id)


@pytest.fixture
def vendor(http: httpx.Client) -> httpx.Client:
    """The admin client, with accounts acme and globex."""
    for name in ("acme", "globex"):
        assert http.post("/v1/accounts", json={"external_id": name, "name": name}).is_success
    return http


@pytest.fixture
def acme(
    server: str, engine: Engine, tenant: Tenant, vendor: httpx.Client
) -> Iterator[httpx.Client]:
    """acme's customer key."""
    token = customer_key(engine, tenant, "acme")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server, headers=headers, timeout=60) as client:
        yield client


def test_create_change_and_no_op_then_history_and_a_past_state(
    vendor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    created = vendor.put(f"{PLAN}/actions/sso", json=action())
    again = vendor.put(f"{PLAN}/actions/sso", json=action())
    assert (created.status_code, created.json()["change"]) == (201, "created")
    assert (again.status_code, again.json()["change"]) == (200, "unchanged")
    between = created.json()["changed_at"]
    changed = vendor.put(f"{PLAN}/actions/sso", json=action(status="in_progress"))
    assert (changed.status_code, changed.json()["change"]) == (200, "changed")
    assert changed.json()["version"] == 2 and changed.json()["changed_by"] == "vendor"
    history = vendor.get(f"{PLAN}/actions/sso/history").json()
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        (1, "planned"),
        (2, "in_progress"),
    ]
    now = vendor.get(PLAN).json()
    past = vendor.get(PLAN, params={"at": between}).json()
    assert [a["status"] for a in now["actions"]] == ["in_progress"]
    assert [a["status"] for a in past["actions"]] == ["planned"]
    assert past["as_of"] == between
    with read(engine) as connection:
        assert ledger_log.log_size(connection, tenant.id) == 2
        assert audit(connection, tenant.id, (SuccessPlanActionSource(),), ()).ok


def test_adherence_shows_what_the_customer_did_of_its_due_actions(
    vendor: httpx.Client, acme: httpx.Client
) -> None:
    for key in ("sso", "training"):
        assert vendor.put(f"{PLAN}/actions/{key}", json=action(due=PAST)).status_code == 201
    assert vendor.put(f"{PLAN}/actions/kickoff", json=action(owner="vendor", due=PAST)).is_success
    assert vendor.put(f"{PLAN}/actions/rollout", json=action()).is_success
    done = acme.put(
        f"{PLAN}/actions/sso", json=action(due=PAST, status="done", evidence=["https://x.test/1"])
    )
    assert done.status_code == 200, done.text
    assert done.json()["done_at"] is not None and done.json()["changed_by"] == "customer"
    plan = acme.get(PLAN).json()
    kept = plan["adherence"]
    # Done today, after its due day: late. Training was never done: missed.
    assert (kept["due"], kept["done_on_time"], kept["done_late"], kept["missed"]) == (2, 0, 1, 1)
    assert [(a["key"], a["standing"]) for a in kept["actions"]] == [
        ("sso", "late"),
        ("training", "missed"),
    ]
    missed = {a["key"]: a["missed"] for a in plan["actions"]}
    assert missed == {"kickoff": True, "rollout": False, "sso": False, "training": True}


def test_a_customer_key_changes_only_what_the_customer_may(
    vendor: httpx.Client, acme: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    assert vendor.put(f"{PLAN}/actions/sso", json=action()).status_code == 201
    assert vendor.put(f"{PLAN}/actions/import", json=action(owner="vendor")).status_code == 201
    size = log_size(engine, tenant)
    refused = {
        "due": acme.put(f"{PLAN}/actions/sso", json=action(due=PAST)),
        "title": acme.put(f"{PLAN}/actions/sso", json=action(title="Later")),
        "owner": acme.put(f"{PLAN}/actions/import", json=action(owner="vendor", status="done")),
    }
    for field, answer in refused.items():
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"].startswith(f"{field}: ")
    new_for_vendor = acme.put(f"{PLAN}/actions/onboarding", json=action(owner="vendor"))
    assert new_for_vendor.status_code == 403
    assert log_size(engine, tenant) == size
    assert acme.put(f"{PLAN}/actions/champion", json=action()).status_code == 201
    started = acme.put(f"{PLAN}/actions/sso", json=action(status="in_progress"))
    assert started.status_code == 200 and started.json()["change"] == "changed"
    assert acme.get(f"{PLAN}/actions/sso/history").status_code == 200


def test_another_accounts_customer_key_gets_404(vendor: httpx.Client, acme: httpx.Client) -> None:
    globex = "/v1/accounts/globex/success-plan"
    assert vendor.put(f"{globex}/actions/sso", json=action()).status_code == 201
    hidden = {
        "plan": acme.get(globex),
        "put": acme.put(f"{globex}/actions/sso", json=action(status="done")),
        "history": acme.get(f"{globex}/actions/sso/history"),
    }
    assert {name: r.status_code for name, r in hidden.items()} == dict.fromkeys(hidden, 404)
    # The very answer an account that does not exist gets.
    absent = acme.get("/v1/accounts/nobody/success-plan").json()["detail"]
    assert hidden["plan"].json()["detail"] == absent.replace("nobody", "globex")
    assert vendor.get(f"{globex}/actions/sso/history").json()["versions"][0]["status"] == "planned"


def test_bad_input_names_the_field_and_records_nothing(
    vendor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    cases = {
        "due": vendor.put(f"{PLAN}/actions/sso", json=action(due="next week")),
        "status": vendor.put(f"{PLAN}/actions/sso", json=action(status="finished")),
        "done_at": vendor.put(
            f"{PLAN}/actions/sso",
            json=action(status="done", done_at=format_rfc3339(datetime.now(UTC))),
        ),
        "key": vendor.put(f"{PLAN}/actions/sso", json=action(key="other")),
        "(document)": vendor.put(f"{PLAN}/actions/sso", content=b"[1, 2"),
        "at": vendor.get(PLAN, params={"at": "yesterday"}),
    }
    for field, answer in cases.items():
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["errors"][0]["field"] == field
    assert log_size(engine, tenant) == 0
    assert vendor.get(f"{PLAN}/actions/sso/history").status_code == 404
    assert vendor.get("/v1/accounts/nobody/success-plan").status_code == 404


def test_an_action_may_be_sent_as_yaml(vendor: httpx.Client) -> None:
    body = f"title: Turn on SSO\nowner: customer\ndue: {FUTURE}\nevidence: [kickoff notes]\n"
    answer = vendor.put(
        f"{PLAN}/actions/sso", content=body, headers={"content-type": "application/yaml"}
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["key"], answer.json()["evidence"]) == ("sso", ["kickoff notes"])
