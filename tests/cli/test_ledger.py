"""`valueproof ledger`: keys, rotation with a handover, checkpoints, status, audit exit codes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine, update

from valueproof.ledger.checkpoints import open_checkpoint
from valueproof.ledger.notes import parse_note, parse_vkey
from valueproof.metering.tables import events
from valueproof.store import write
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli, EventsFile


@pytest.fixture
def passphrase(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "a passphrase only this test knows"
    monkeypatch.setenv("VALUEPROOF_LEDGER_PASSPHRASE", secret)
    return secret


def test_keygen_rotate_and_every_checkpoint_stays_verifiable(
    cli: Cli, passphrase: str, metered: Tenant, events_file: EventsFile
) -> None:
    first = cli.json("ledger", "keygen")
    assert first["checkpoint"]["size"] == 0
    assert cli("ledger", "keygen").exit_code == 4  # one active key: rotation replaces it
    assert cli("ingest", str(events_file())).exit_code == 0
    before = cli.json("ledger", "status")["checkpoint"]
    assert before["size"] == 3

    rotated = cli.json("ledger", "rotate")
    handover = parse_note(rotated["checkpoint"]["note"])
    assert len(handover.signatures) == 2  # signed by the retiring and the new key
    keys = cli.json("ledger", "keys")["keys"]
    assert [key["retired_at"] is None for key in keys] == [False, True]
    old, new = (parse_vkey(key["vkey"]) for key in keys)
    assert open_checkpoint(before["note"], [old]).size == 3
    assert open_checkpoint(rotated["checkpoint"]["note"], [new]).size == 3
    assert open_checkpoint(rotated["checkpoint"]["note"], [old]).size == 3
    assert cli("ledger", "audit").exit_code == 0
    # the origin is the tiles' URL prefix, and a new key never starts a second log
    origin = open_checkpoint(before["note"], [old]).origin
    assert origin.endswith(f"/tlog/{metered.slug}")
    assert open_checkpoint(rotated["checkpoint"]["note"], [new]).origin == origin


def test_keygen_prints_the_verifier_key_alone_on_stdout(
    cli: Cli, passphrase: str, metered: Tenant
) -> None:
    # `VKEY=$(valueproof ledger keygen)` must capture the key and nothing else
    made = cli("ledger", "keygen")
    assert made.exit_code == 0, made.output
    [key] = cli.json("ledger", "keys")["keys"]
    assert made.stdout == f"{key['vkey']}\n"
    assert parse_vkey(made.stdout.strip()).name == parse_vkey(key["vkey"]).name
    assert "give customers this verifier key" in made.stderr


def test_status_and_checkpoint_without_a_passphrase(
    cli: Cli, metered: Tenant, events_file: EventsFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VALUEPROOF_LEDGER_PASSPHRASE", raising=False)
    refused = cli("ledger", "keygen")
    assert refused.exit_code == 2 and "VALUEPROOF_LEDGER_PASSPHRASE" in refused.output
    assert cli("ingest", str(events_file())).exit_code == 0  # the log grows regardless
    status = cli.json("ledger", "status")
    assert (status["size"], status["checkpoint"], status["unsigned_leaves"]) == (3, None, 3)
    no_key = cli("ledger", "checkpoint")
    assert no_key.exit_code == 1 and "keygen" in no_key.output


def test_audit_exits_1_and_names_the_tampered_record(
    cli: Cli,
    passphrase: str,
    engine: Engine,
    metered: Tenant,
    events_file: EventsFile,
    tmp_path: Path,
) -> None:
    cli("ledger", "keygen")
    cli("ingest", str(events_file()))
    seen = tmp_path / "seen.note"
    seen.write_text(cli.json("ledger", "status")["checkpoint"]["note"])
    assert cli("ledger", "audit", "--seen", str(seen)).exit_code == 0
    with write(engine) as connection:
        connection.execute(
            update(events)
            .where(events.c.tenant_id == metered.id, events.c.event_id == "call-2")
            .values(properties='{"region":"us","tokens":70}')
        )
    result = cli("ledger", "audit")
    assert result.exit_code == 1
    assert "edited" in result.output and "call-2" in result.output
    report = cli("ledger", "audit", "--json")
    assert report.exit_code == 1
    findings = orjson.loads(report.stdout)["findings"]
    assert [(f["kind"], f["record"]) for f in findings] == [("edited", "call-2")]


def test_a_weak_passphrase_is_refused_before_any_key_is_made(
    cli: Cli, metered: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `export VALUEPROOF_LEDGER_PASSPHRASE=...` copied as written: three characters
    monkeypatch.setenv("VALUEPROOF_LEDGER_PASSPHRASE", "...")
    refused = cli("ledger", "keygen")
    assert refused.exit_code == 2
    assert "VALUEPROOF_LEDGER_PASSPHRASE: is 3 characters" in refused.output
    assert cli.json("ledger", "keys")["keys"] == []  # nothing made
    monkeypatch.setenv("VALUEPROOF_LEDGER_PASSPHRASE", "three good words")
    assert cli("ledger", "keygen").exit_code == 0
