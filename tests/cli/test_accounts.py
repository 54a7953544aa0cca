"""Tests for cli/accounts.py and cli/account_import.py: account CRUD and idempotent imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Cli


def test_create_show_update_list_delete(cli: Cli) -> None:
    created = cli("accounts", "create", "acme", "--name", "Acme [EU]", "--attr", "region=eu")
    assert created.exit_code == 0, created.output
    assert "Acme [EU]" in created.stdout  # shown as text, not read as Rich markup
    cli("accounts", "create", "globex", "--name", "Globex", "--attr", "seats:=50")

    assert cli.json("accounts", "show", "globex")["attributes"] == {"seats": 50}

    updated = cli.json(
        "accounts", "update", "acme", "--name", "Acme", "--attr", "tier=gold", "--unset", "region"
    )
    assert updated == {"external_id": "acme", "name": "Acme", "attributes": {"tier": "gold"}}

    first = cli.json("accounts", "list", "--limit", "1")
    assert [a["external_id"] for a in first["accounts"]] == ["acme"]
    assert first["next_after"] == "acme"
    rest = cli.json("accounts", "list", "--after", "acme")
    assert [a["external_id"] for a in rest["accounts"]] == ["globex"]
    assert rest["next_after"] is None

    assert cli("accounts", "delete", "acme").exit_code == 0
    gone = cli("accounts", "show", "acme")
    assert gone.exit_code == 3
    assert gone.stderr == "error: no account 'acme'\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "acme", "--name", "Again"], 4, "error: account 'acme' exists already\n"),
        (["create", "bad id", "--name", "X"], 2, "error: external_id: "),
        (["create", "x", "--name", "X", "--attr", "novalue"], 2, "error: --attr: "),
        (["create", "x", "--name", "X", "--attr", "n:=many"], 2, "error: attributes.n: "),
        (["update", "acme"], 2, "error: (options): nothing to change"),
        (["update", "nobody", "--name", "X"], 3, "error: no account 'nobody'\n"),
        (["delete", "nobody"], 3, "error: no account 'nobody'\n"),
    ],
)
def test_errors_map_to_exit_codes(cli: Cli, args: list[str], code: int, message: str) -> None:
    cli("accounts", "create", "acme", "--name", "Acme")
    result = cli("accounts", *args)
    assert result.exit_code == code
    assert result.stderr.startswith(message)


def test_import_csv_creates_then_updates_and_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("external_id,name,region\nacme,Acme,eu\nglobex,Globex,\n")
    assert cli.json("accounts", "import", str(path)) == {"created": 2, "updated": 0, "unchanged": 0}
    assert cli.json("accounts", "import", str(path)) == {"created": 0, "updated": 0, "unchanged": 2}
    assert cli.json("accounts", "show", "globex")["attributes"] == {}

    path.write_text("external_id,name,region\nacme,Acme Corp,eu\nglobex,Globex,us\n")
    assert cli.json("accounts", "import", str(path)) == {"created": 0, "updated": 2, "unchanged": 0}
    assert cli.json("accounts", "show", "acme")["name"] == "Acme Corp"
    assert cli.json("accounts", "show", "globex")["attributes"] == {"region": "us"}


def test_import_jsonl_keeps_attribute_types(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "accounts.jsonl"
    path.write_text(
        '{"external_id": "acme", "name": "Acme", "attributes": {"seats": 50, "trial": false}}\n'
    )
    result = cli("accounts", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "created 1, updated 0, unchanged 0\n"
    assert cli.json("accounts", "show", "acme")["attributes"] == {"seats": 50, "trial": False}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "external_id,name\nok,Fine\nbad id,Bad\n", "error: row 3: external_id: "),
        ("a.csv", "external_id,name\nok,Fine\nok,Again\n", "error: row 3: external_id: repeats"),
        ("a.csv", "external_id\nok\n", "error: (header): missing column 'name'"),
        ("a.jsonl", '{"external_id": "ok", "name": "Fine"}\n\n{oops\n', "error: line 3: malformed"),
        ("a.jsonl", '{"external_id": "ok", "name": "Fine", "size": 3}\n', "error: line 1: size: "),
    ],
)
def test_import_refuses_a_bad_file_whole(
    cli: Cli, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = cli("accounts", "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert cli.json("accounts", "list")["accounts"] == []
