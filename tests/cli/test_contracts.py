"""Tests for cli/contracts.py: apply, validate, show, diff and list contracts, and preview."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from valueproof.ledger.keyring import StoredKey
from valueproof.ledger.log import log_size
from valueproof.ledger.publish import latest_checkpoint
from valueproof.store import read
from valueproof.tenancy.tenants import Tenant

from ..conftest import LEDGER_PASSPHRASE
from .conftest import EVENTS, Cli, EventsFile

SAMPLE = (Path(__file__).parents[1] / "contracts" / "fixtures" / "per_unit.yaml").read_text()
AMENDED = (
    SAMPLE.replace('unit_price: "0.25"', 'unit_price: "0.30"') + "effective_from: 2024-06-01\n"
)
FLAT_IN_EUR = '  - {id: base, type: flat, amount: "1.00 EUR"}\n'
PERCENTAGE_OF_CALLS = "  - {id: fees, type: percentage, meter: calls, percent: 2}\n"
OVERLAPPING_TIERS = """\
  - id: bulk
    type: graduated
    meter: calls
    tiers:
      - {up_to: 100, unit_price: "0.2"}
      - {from: 50, up_to: null, unit_price: "0.1"}
"""


def for_globex(text: str) -> str:
    return text.replace("acme-2024", "globex-2024").replace("account: acme", "account: globex")


@pytest.fixture
def contract_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(SAMPLE)
    return path


@pytest.fixture
def applied(cli: Cli, metered: Tenant, contract_file: Path) -> Path:
    """The sample contract at versions 1 (in `contract_file`) and 2 (in `amended.yaml`)."""
    assert cli("contract", "apply", str(contract_file)).exit_code == 0
    amended = contract_file.with_name("amended.yaml")
    amended.write_text(AMENDED)
    assert cli("contract", "apply", str(amended)).exit_code == 0
    return amended


def test_apply_creates_is_unchanged_then_amends_and_signs_a_checkpoint(
    cli: Cli,
    metered: Tenant,
    contract_file: Path,
    signing_key: StoredKey,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VALUEPROOF_LEDGER_PASSPHRASE", LEDGER_PASSPHRASE)
    created = cli("contract", "apply", str(contract_file))
    assert created.exit_code == 0, created.output
    assert created.stdout == (
        "created contract acme-2024 version 1 (account acme), effective 2024-05-01T00:00:00Z, "
        "ledger leaf 0\n"
    )
    again = cli.json("contract", "apply", str(contract_file))
    assert (again["status"], again["version"], again["leaf_index"]) == ("unchanged", 1, 0)

    contract_file.write_text(AMENDED)
    amended = cli.json("contract", "apply", str(contract_file))
    assert (amended["status"], amended["version"], amended["leaf_index"]) == ("amended", 2, 1)
    assert amended["document"]["components"][0]["unit_price"] == "0.30"
    with read(engine) as connection:
        checkpoint = latest_checkpoint(connection, metered.id)
        assert checkpoint is not None
        assert checkpoint.checkpoint.size == log_size(connection, metered.id) == 2


def test_validate_lists_every_problem_on_its_own_line(
    cli: Cli, metered: Tenant, contract_file: Path, tmp_path: Path
) -> None:
    assert cli("contract", "validate", str(contract_file)).stdout == (
        "valid: contract acme-2024 for account acme\n"
    )
    assert cli.json("contract", "validate", str(contract_file)) == {
        "valid": True,
        "problems": [],
        "warnings": [],
    }

    bad = tmp_path / "bad.yaml"
    with_eur = SAMPLE.replace("components:\n", "components:\n" + FLAT_IN_EUR)
    bad.write_text(with_eur.replace('unit_price: "0.25"', "unit_price: -1"))
    result = cli("contract", "validate", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        "error: components[0].amount: currency mismatch: EUR in a USD contract",
        "error: components[1].unit_price: Input should be greater than or equal to 0",
    ]
    as_json = cli("contract", "validate", str(bad), "--json")
    assert as_json.exit_code == 2
    assert [p["field"] for p in json.loads(as_json.stdout)["problems"]] == [
        "components[0].amount",
        "components[1].unit_price",
    ]

    whole = tmp_path / "whole.yaml"
    with_when = SAMPLE.replace("    unit_price:", '    when: "usage.calls >"\n    unit_price:')
    whole.write_text(with_when.replace("components:\n", "components:\n" + OVERLAPPING_TIERS))
    refused = cli("contract", "validate", str(whole))
    assert refused.exit_code == 2
    assert [line.split(": ")[1] for line in refused.stderr.splitlines()] == [
        "components[0].tiers[1]",
        "components[1].when",
    ]

    unknown = tmp_path / "unknown.yaml"
    requests = SAMPLE.replace("meter: calls", "meter: requests")
    unknown.write_text(requests.replace("components:\n", "components:\n" + PERCENTAGE_OF_CALLS))
    refused = cli("contract", "validate", str(unknown))
    assert refused.exit_code == 2
    assert [line.split(": ")[1] for line in refused.stderr.splitlines()] == [
        "components[0].meter",
        "components[1].meter",
    ]


def test_a_refused_file_stores_nothing(cli: Cli, metered: Tenant, tmp_path: Path) -> None:
    half = tmp_path / "half.yaml"
    half.write_text(SAMPLE.replace("meter: calls", "meter: requests"))
    result = cli("contract", "apply", str(half))
    assert result.exit_code == 2
    assert result.stderr == "error: components[0].meter: unknown meter 'requests'\n"
    assert cli.json("contract", "list") == {"contracts": []}
    missing_account = tmp_path / "initech.yaml"
    missing_account.write_text(SAMPLE.replace("account: acme", "account: initech"))
    assert cli("contract", "apply", str(missing_account)).exit_code == 2
    assert cli.json("contract", "list") == {"contracts": []}


def test_an_account_mismatch_is_a_conflict(
    cli: Cli, metered: Tenant, contract_file: Path, tmp_path: Path
) -> None:
    assert cli("contract", "apply", str(contract_file)).exit_code == 0
    other = tmp_path / "globex.yaml"
    other.write_text(SAMPLE.replace("account: acme", "account: globex"))
    result = cli("contract", "apply", str(other))
    assert result.exit_code == 4
    assert "belongs to another account" in result.stderr


def test_show_prints_a_document_apply_takes_back(
    cli: Cli, applied: Path, contract_file: Path, tmp_path: Path
) -> None:
    shown = cli("contract", "show", "acme-2024")
    assert shown.exit_code == 0, shown.output
    header = shown.stdout.splitlines()[:2]
    assert header[0] == "# contract acme-2024, version 2 of 2"
    assert header[1].startswith("# effective 2024-06-01T00:00:00Z, ledger leaf 1, applied ")
    document = yaml.safe_load(shown.stdout)
    assert document["components"][0]["unit_price"] == "0.30"
    again = tmp_path / "shown.yaml"
    again.write_text(shown.stdout)
    assert cli.json("contract", "apply", str(again))["status"] == "unchanged"

    first = cli.json("contract", "show", "acme-2024", "--version", "1")
    assert (first["version"], first["effective_from"]) == (1, "2024-05-01T00:00:00Z")
    assert first["document"]["components"][0]["unit_price"] == "0.25"
    assert cli("contract", "show", "acme-2024", "--version", "3").exit_code == 3
    assert cli("contract", "show", "nope").exit_code == 3


def test_diff_by_key_between_versions(cli: Cli, applied: Path) -> None:
    found = cli.json("contract", "diff", "acme-2024")
    assert (found["contract"], found["from"], found["to"]) == ("acme-2024", 1, 2)
    assert [tuple(change.values()) for change in found["changes"]] == [
        ("effective_from", "changed", None, "2024-06-01T00:00:00Z"),
        ("components[api].unit_price", "changed", "0.25", "0.30"),
    ]
    table = cli("contract", "diff", "acme-2024", "--from", "2", "--to", "1")
    assert table.exit_code == 0
    assert table.stdout.startswith("acme-2024: version 2 to version 1\n")
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in table.stdout.splitlines()
        if line.startswith("│")
    ]
    assert rows == [
        ["effective_from", "changed", "2024-06-01T00:00:00Z", ""],
        ["components[api].unit_price", "changed", "0.30", "0.25"],
    ]
    same = cli("contract", "diff", "acme-2024", "--from", "1", "--to", "1")
    assert same.stdout == "acme-2024: version 1 to version 1: no changes\n"
    assert cli("contract", "diff", "acme-2024", "--to", "7").exit_code == 2
    assert cli("contract", "diff", "nope").exit_code == 3


def test_diff_of_a_file_shows_what_applying_would_change(
    cli: Cli, applied: Path, tmp_path: Path
) -> None:
    assert cli("contract", "diff", str(applied)).stdout.endswith(": no changes\n")
    cheaper = tmp_path / "cheaper.yaml"
    cheaper.write_text(AMENDED.replace('"0.30"', '"0.20"').replace("Acme's API plan", "Acme"))
    pending = cli.json("contract", "diff", str(cheaper))
    assert (pending["contract"], pending["from"], pending["file"]) == ("acme-2024", 2, str(cheaper))
    assert [(c["path"], c["old"], c["new"]) for c in pending["changes"]] == [
        ("description", "Acme's API plan", "Acme"),
        ("components[api].unit_price", "0.30", "0.20"),
    ]
    fresh = tmp_path / "globex.yaml"
    fresh.write_text(for_globex(SAMPLE))
    new = cli("contract", "diff", str(fresh))
    assert new.exit_code == 0
    assert new.stdout.startswith("globex-2024: no stored version to ")
    assert cli("contract", "diff", str(cheaper), "--from", "1").exit_code == 2


def test_list_shows_each_contract_at_its_latest_version(
    cli: Cli, applied: Path, tmp_path: Path
) -> None:
    other = tmp_path / "globex.yaml"
    other.write_text(for_globex(SAMPLE))
    assert cli("contract", "apply", str(other)).exit_code == 0
    listed = cli.json("contract", "list")["contracts"]
    assert [(c["contract"], c["account"], c["version"]) for c in listed] == [
        ("acme-2024", "acme", 2),
        ("globex-2024", "globex", 1),
    ]
    globex = cli.json("contract", "list", "--account", "globex")["contracts"]
    assert [c["contract"] for c in globex] == ["globex-2024"]
    table = cli("contract", "list").stdout
    assert "acme-2024" in table and "2024-06-01T00:00:00Z" in table


def test_preview_prices_what_was_ingested(
    cli: Cli, metered: Tenant, contract_file: Path, events_file: EventsFile
) -> None:
    assert cli("contract", "apply", str(contract_file)).exit_code == 0
    assert cli("ingest", str(events_file())).exit_code == 0
    calls = sum(1 for event in EVENTS if event["account"] == "acme")
    price, factor = Decimal("0.25"), Decimal(31 * 24) / Decimal(24)  # a day of May elapsed
    at = "2024-05-02T00:00:00Z"

    preview = cli.json("preview", "acme", "--at", at)
    assert (preview["as_of"], Decimal(preview["factor"])) == (at, factor)
    assert Decimal(preview["period_to_date"]["total"]) == calls * price
    projected = (calls * price * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert Decimal(preview["projection"]["total"]) == projected

    table = cli("preview", "acme", "--at", at)
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0] == (
        "acme: contract acme-2024 version 1, USD, period 2024-05-01T00:00:00Z to "
        "2024-06-01T00:00:00Z"
    )
    assert lines[1] == f"as of {at}; projection factor {factor:.6f}"
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.startswith("│")
    ]
    assert rows == [
        ["api", "per_unit", str(calls), f"{calls * price:.2f}"],
        ["total", "", "", f"{calls * price:.2f}"],
        ["api", "per_unit", f"{calls * factor:.6f}", str(projected)],
        ["total", "", "", str(projected)],
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["acme", "--at", "soon"], 2, "error: at: "),
        (["globex", "--at", "2024-05-02T00:00:00Z"], 2, "error: account: "),
        (["nobody"], 2, "error: account: unknown account 'nobody'"),
    ],
)
def test_preview_refusals(
    cli: Cli, metered: Tenant, contract_file: Path, args: list[str], code: int, message: str
) -> None:
    assert cli("contract", "apply", str(contract_file)).exit_code == 0
    result = cli("preview", *args)
    assert result.exit_code == code
    assert result.stderr.startswith(message)
