"""Tests for cli/usage.py: the usage of what was ingested, as a table and as JSON."""

from __future__ import annotations

import pytest

from valueproof.tenancy.tenants import Tenant

from .conftest import Cli, EventsFile

DAY = ("--from", "2024-05-01T00:00:00Z", "--to", "2024-05-02T00:00:00Z")


@pytest.fixture
def ingested(cli: Cli, metered: Tenant, events_file: EventsFile) -> Cli:
    """The CLI of a tenant that has ingested EVENTS."""
    assert cli("ingest", str(events_file())).exit_code == 0
    return cli


def test_json_equals_what_was_ingested(ingested: Cli) -> None:
    tokens = ingested.json("usage", "--meter", "tokens", *DAY, "--group-by", "account")
    assert tokens["unit"] == "token"
    assert {row["group"]["account"]: row["value"] for row in tokens["rows"]} == {
        "acme": "12",
        "globex": "11",
    }
    hourly = ingested.json(
        "usage", "--meter", "calls", *DAY, "--granularity", "hour", "--account", "acme"
    )
    assert [(row["from"], row["value"]) for row in hourly["rows"]] == [
        ("2024-05-01T10:00:00Z", "1"),
        ("2024-05-01T11:00:00Z", "1"),
    ]


def test_table_shows_each_group_and_value(ingested: Cli) -> None:
    result = ingested("usage", "--meter", "calls", *DAY, "--group-by", "region")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("calls: count (call) per day")
    rows = [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]
    assert rows == [
        ["2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", "eu", "2"],
        ["2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", "us", "1"],
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--meter", "nope", *DAY], "error: meter: unknown meter 'nope'"),
        (["--meter", "calls", "--from", "yesterday", "--to", DAY[3]], "error: from: "),
        (["--meter", "calls", *DAY, "--group-by", "colour"], "error: group_by: 'colour'"),
        (["--meter", "calls", *DAY, "--account", "nobody"], "error: account: unknown account"),
    ],
)
def test_bad_queries_exit_2(ingested: Cli, args: list[str], message: str) -> None:
    result = ingested("usage", *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
