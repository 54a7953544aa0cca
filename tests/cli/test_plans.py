"""Tests for cli/plans.py: `plan set` (created, unchanged, changed; exit 2 naming the field,
3 for an unknown account), `plan show` now and `--at` a past moment, and `plan history`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import Engine

from valueproof.ledger import log as ledger_log
from valueproof.store import read, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli

ACTION: dict[str, Any] = {
    "key": "sso",
    "title": "Turn on SSO",
    "owner": "customer",
    "due": "2020-01-10",
    "status": "planned",
}


@pytest.fixture
def acme(engine: Engine, tenant: Tenant) -> Tenant:
    with write(engine) as connection:
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
    return tenant


def action_file(path: Path, **fields: Any) -> Path:
    path.write_text(yaml.safe_dump({**ACTION, **fields}))
    return path


def log_size(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        return ledger_log.log_size(connection, tenant.id)


def test_set_records_versions_and_show_and_history_read_them(
    cli: Cli, acme: Tenant, engine: Engine, tmp_path: Path
) -> None:
    first = cli.json("plan", "set", "acme", str(action_file(tmp_path / "a.yaml")))
    again = cli.json("plan", "set", "acme", str(action_file(tmp_path / "a.yaml")))
    done = cli.json("plan", "set", "acme", str(action_file(tmp_path / "b.yaml", status="done")))
    assert [r["change"] for r in (first, again, done)] == ["created", "unchanged", "changed"]
    assert (done["version"], done["changed_by"]) == (2, "vendor")
    assert log_size(engine, acme) == 2
    shown = cli.json("plan", "show", "acme")
    # Done now, years after its due day: late.
    assert [a["status"] for a in shown["actions"]] == ["done"]
    assert (shown["adherence"]["due"], shown["adherence"]["done_late"]) == (1, 1)
    past = cli.json("plan", "show", "acme", "--at", first["changed_at"])
    assert [a["status"] for a in past["actions"]] == ["planned"]
    assert past["adherence"]["missed"] == 1
    history = cli.json("plan", "history", "acme", "sso")
    assert [v["status"] for v in history["versions"]] == ["planned", "done"]
    table = cli("plan", "show", "acme")
    assert table.exit_code == 0 and "sso" in table.stdout and "done late 1" in table.stdout
    assert "sso" in cli("plan", "history", "acme", "sso").stdout
    said = cli("plan", "set", "acme", str(action_file(tmp_path / "c.json", status="dropped")))
    assert said.exit_code == 0 and "acme/sso: changed, version 3" in said.stdout


def test_bad_input_exits_2_naming_the_field_and_records_nothing(
    cli: Cli, acme: Tenant, engine: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(orjson.dumps({**ACTION, "due": "soon"}).decode())
    refused = cli("plan", "set", "acme", str(bad))
    assert refused.exit_code == 2 and "due:" in refused.stderr
    at = cli("plan", "show", "acme", "--at", "yesterday")
    assert at.exit_code == 2 and "at:" in at.stderr
    unknown = cli("plan", "set", "nobody", str(action_file(tmp_path / "a.yaml")))
    assert unknown.exit_code == 3
    assert cli("plan", "history", "acme", "sso").exit_code == 3
    assert log_size(engine, acme) == 0
