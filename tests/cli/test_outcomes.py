"""Tests for cli/outcomes.py: define and list definitions, the seed's 100 leads through
`outcomes claim` (counts, idempotent re-run, exit codes), and `outcomes show`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import Engine

from valueproof.ledger import log as ledger_log
from valueproof.outcomes.claim_records import commitment
from valueproof.periods import format_rfc3339
from valueproof.store import read, write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli

OCCURRED = format_rfc3339(datetime.now(UTC).replace(microsecond=0) - timedelta(days=2))
DEFINITION: dict[str, Any] = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True, "personal": True},
        "company": {"type": "string", "required": True},
        "industry": {"type": "string", "required": True},
        "employees": {"type": "integer", "required": True},
    },
    "criteria": [
        {"name": "industry", "expression": 'claim.industry in ["saas", "fintech"]'},
        {"name": "size", "expression": "claim.employees >= 50"},
    ],
    "dedupe_key": "lower(claim.email)",
    "verification_window_days": 30,
    "dispute_window_days": 14,
}


def lead(n: int, **attributes: Any) -> dict[str, Any]:
    values = {
        "email": f"lead{n}@example.com",
        "company": f"Co {n}",
        "industry": "saas",
        "employees": 120,
        **attributes,
    }
    return {
        "id": f"c{n}",
        "account": "acme",
        "contract": "acme-leads",
        "outcome": "qualified_lead",
        "occurred_at": OCCURRED,
        "attributes": values,
    }


def seed_claims() -> list[dict[str, Any]]:
    """The seed: 100 leads, 20 off the agreed profile, 20 repeating an earlier lead's email."""
    claims = []
    for n in range(100):
        if n % 5 == 1:
            claims.append(lead(n, industry="retail") if n % 2 else lead(n, employees=12))
        elif n % 5 == 2:  # the lead of n - 2 again, the address written otherwise
            claims.append(lead(n, email=f"LEAD{n - 2}@example.com"))
        else:
            claims.append(lead(n))
    return claims


def jsonl(path: Path, items: list[Any]) -> Path:
    lines = [item if isinstance(item, str) else orjson.dumps(item).decode() for item in items]
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def log_size(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        return ledger_log.log_size(connection, tenant.id)


@pytest.fixture
def definition_file(tmp_path: Path) -> Path:
    path = tmp_path / "qualified_lead.yaml"
    path.write_text(yaml.safe_dump(DEFINITION))
    return path


@pytest.fixture
def defined(cli: Cli, engine: Engine, tenant: Tenant, definition_file: Path) -> Tenant:
    """The test's tenant with the account `acme` and the lead definition, applied by the CLI."""
    with write(engine) as connection:
        create_account(connection, tenant.id, AccountCreate(external_id="acme", name="Acme"))
    applied = cli("outcomes", "define", str(definition_file))
    assert applied.exit_code == 0, applied.output
    return tenant


def test_define_records_a_version_only_when_the_document_changes(
    cli: Cli, tmp_path: Path, definition_file: Path
) -> None:
    first = cli("outcomes", "define", str(definition_file))
    again = cli.json("outcomes", "define", str(definition_file))
    changed = tmp_path / "changed.json"
    changed.write_bytes(orjson.dumps({**DEFINITION, "verification_window_days": 60}))
    second = cli.json("outcomes", "define", str(changed))
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "acme-leads/qualified_lead: created, version 1, leaf 0"
    assert (again["status"], again["version"], again["leaf_index"]) == ("unchanged", 1, 0)
    assert (second["status"], second["version"], second["leaf_index"]) == ("updated", 2, 1)
    listed = cli.json("outcomes", "definitions")["definitions"]
    assert [(d["version"], d["definition"]["verification_window_days"]) for d in listed] == [
        (2, 60)
    ]
    table = cli("outcomes", "definitions")
    assert table.exit_code == 0, table.output
    assert "acme-leads" in table.stdout and "industry, size" in table.stdout


def test_define_refuses_an_invalid_definition_with_every_problem(
    cli: Cli, engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    broken = {
        **DEFINITION,
        "criteria": [{"name": "size", "expression": "claim.headcount >= 50"}],
        "dedupe_key": "upper(claim.email)",
    }
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    refused = cli("outcomes", "define", str(path))
    assert refused.exit_code == 2
    assert "criteria[0].expression: reads claim.headcount" in refused.stderr
    assert "dedupe_key: calls 'upper'" in refused.stderr
    not_yaml = tmp_path / "not.yaml"
    not_yaml.write_text("contract: [unclosed\n")
    assert cli("outcomes", "define", str(not_yaml)).exit_code == 2
    assert log_size(engine, tenant) == 0


def test_the_seed_100_leads_through_claim_60_accepted_and_a_re_run_is_idempotent(
    cli: Cli, engine: Engine, defined: Tenant, tmp_path: Path
) -> None:
    path = jsonl(tmp_path / "leads.jsonl", seed_claims())
    # Chunks of 7: a duplicate lead and the lead it repeats often fall in different chunks.
    first = cli("outcomes", "claim", str(path), "--chunk", "7")
    assert first.exit_code == 1, first.output  # 40 refused by their verdicts: not all accepted
    assert "accepted 60, duplicate 0, conflict 0, rejected 40" in first.stdout
    assert "verdicts: accepted 60, refused 40 (criterion_failed 20, duplicate 20)" in first.stdout
    assert log_size(engine, defined) == 101  # the definition, then one verdict per claim

    rerun = cli("outcomes", "claim", str(path), "--json")
    assert rerun.exit_code == 1  # the same answer as the first run: the 40 are still refused
    again = orjson.loads(rerun.stdout)
    assert (again["accepted"], again["duplicate"], again["conflict"], again["rejected"]) == (
        0,
        60,
        0,
        40,
    )
    assert again["verdicts"] == {
        "accepted": 60,
        "refused": 40,
        "reasons": {"criterion_failed": 20, "duplicate": 20},
    }
    results = again["results"]
    assert [r["index"] for r in results] == list(range(100))
    assert {r["id"] for r in results if not r["verdict"]["accepted"]} == {
        f"c{n}" for n in range(100) if n % 5 in (1, 2)
    }
    assert sorted(r["leaf_index"] for r in results) == list(range(1, 101))
    assert log_size(engine, defined) == 101


def test_claim_reads_a_json_document_and_lists_every_result(
    cli: Cli, defined: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "claims.json"
    path.write_bytes(orjson.dumps({"claims": [lead(0), lead(1, employees=3)]}))
    answer = orjson.loads(cli("outcomes", "claim", str(path), "--json").stdout)
    assert (answer["items"], answer["accepted"], answer["rejected"]) == (2, 1, 1)
    first, second = answer["results"]
    assert first["verdict"] == {"accepted": True, "reasons": []}
    [reason] = second["verdict"]["reasons"]
    assert (reason["code"], reason["field"]) == ("criterion_failed", "criteria.size")


def test_claim_exits_1_when_an_item_is_malformed_or_in_conflict(
    cli: Cli, engine: Engine, defined: Tenant, tmp_path: Path
) -> None:
    taken = cli("outcomes", "claim", str(jsonl(tmp_path / "first.jsonl", [lead(0)])))
    assert taken.exit_code == 0, taken.output
    items = [
        lead(0, company="Other Co"),  # c0 again with other content: a conflict
        "{not json",
        {**lead(5), "account": "nobody"},
        {"id": "c6"},
        lead(7),
    ]
    refused = cli("outcomes", "claim", str(jsonl(tmp_path / "mixed.jsonl", items)))
    assert refused.exit_code == 1, refused.output
    assert "accepted 1, duplicate 0, conflict 1, rejected 3" in refused.stdout
    assert "line 2 is not JSON" in refused.stdout and "unknown account 'nobody'" in refused.stdout
    answer = orjson.loads(cli("outcomes", "claim", str(tmp_path / "mixed.jsonl"), "--json").stdout)
    assert [r["status"] for r in answer["results"]] == [
        "conflict",
        "rejected",
        "rejected",
        "rejected",
        "duplicate",
    ]
    assert log_size(engine, defined) == 3  # the definition, c0 and c7


def test_claim_exits_2_on_an_unreadable_file(cli: Cli, defined: Tenant, tmp_path: Path) -> None:
    binary = tmp_path / "claims.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    not_a_list = tmp_path / "claims.json"
    not_a_list.write_bytes(orjson.dumps({"claims": {"id": "c1"}}))
    for path in (binary, not_a_list, tmp_path / "missing.jsonl"):
        result = cli("outcomes", "claim", str(path))
        assert result.exit_code == 2, (path, result.output)


def test_claim_files_naming_a_key_twice_are_refused_naming_it(
    cli: Cli, defined: Tenant, tmp_path: Path
) -> None:
    twice = orjson.dumps(lead(1)).decode().replace('{"id":"c1"', '{"id":"c1","id":"c9"')
    lines = cli("outcomes", "claim", str(jsonl(tmp_path / "twice.jsonl", [lead(0), twice])))
    assert lines.exit_code == 1, lines.output
    assert "line 2 is not JSON: duplicate key 'id'" in lines.stdout
    document = tmp_path / "twice.json"
    document.write_text('{"claims": [], "claims": [' + orjson.dumps(lead(2)).decode() + "]}")
    refused = cli("outcomes", "claim", str(document))
    assert refused.exit_code == 2 and "duplicate key 'claims'" in refused.stderr


def test_show_gives_the_verdict_the_leaf_and_the_salts(
    cli: Cli, defined: Tenant, tmp_path: Path
) -> None:
    path = jsonl(tmp_path / "leads.jsonl", [lead(0), lead(1, industry="retail")])
    assert cli("outcomes", "claim", str(path)).exit_code == 1  # c1 is refused
    refused = cli.json("outcomes", "show", "c1")
    assert (refused["id"], refused["leaf_index"], refused["verdict"]["accepted"]) == (
        "c1",
        2,
        False,
    )
    assert [r["code"] for r in refused["verdict"]["reasons"]] == ["criterion_failed"]
    # The salt shown lets the customer recompute the commitment on the leaf.
    salt = base64.b64decode(refused["salts"]["email"])
    assert len(commitment(salt, "lead1@example.com")) == 64
    assert set(refused["salts"]) == {"email"}
    text = cli("outcomes", "show", "c1")
    assert text.exit_code == 0, text.output
    assert "claim c1: refused, leaf 2" in text.stdout
    assert "criterion_failed" in text.stdout
    missing = cli("outcomes", "show", "nope")
    assert missing.exit_code == 3
    assert "no claim 'nope'" in missing.stderr


def test_a_claim_with_a_nul_byte_is_rejected_naming_the_field(
    cli: Cli, engine: Engine, defined: Tenant, tmp_path: Path
) -> None:
    path = jsonl(tmp_path / "nul.jsonl", [lead(0), {**lead(1), "account": "ac\u0000me"}])
    answer = cli("outcomes", "claim", str(path), "--json")
    assert answer.exit_code == 1, answer.output
    results = orjson.loads(answer.stdout)["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert results[1]["errors"][0]["field"] == "account" and results[1]["leaf_index"] is None
    assert log_size(engine, defined) == 2  # the definition and c0
