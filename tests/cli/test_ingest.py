"""Tests for cli/ingest.py: files in every format, outcomes and exit codes, the acks file, and
exit codes through a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select

from valueproof.metering.tables import events
from valueproof.store import read
from valueproof.tenancy.tenants import Tenant

from .conftest import EVENTS, Cli, EventsFile, database_url_of

COUNTS = ("accepted", "duplicate", "conflict", "rejected")


def counts(report: dict[str, Any]) -> tuple[int, ...]:
    return tuple(report[name] for name in COUNTS)


def events_on_record(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        query = select(func.count()).select_from(events).where(events.c.tenant_id == tenant.id)
        return int(connection.execute(query).scalar_one())


@pytest.mark.usefixtures("metered")
@pytest.mark.parametrize("name", ["events.jsonl", "events.csv", "events.parquet"])
def test_each_format_is_ingested_and_a_rerun_is_all_duplicates(
    cli: Cli, events_file: EventsFile, name: str
) -> None:
    path = events_file(name)
    first = cli.json("ingest", str(path))
    assert counts(first) == (3, 0, 0, 0)
    assert first["items"] == 3 and first["problems"] == []
    again = cli("ingest", str(path), "--json")
    assert again.exit_code == 0
    assert counts(orjson.loads(again.stdout)) == (0, 3, 0, 0)


PARTLY_BAD = [
    EVENTS[0],
    "not json at all",
    {**EVENTS[1], "account": "nobody"},
    {**EVENTS[2], "properties": {"region": "eu"}},
]


@pytest.mark.usefixtures("metered")
def test_rejected_items_exit_1_with_item_location_field_and_reason(
    cli: Cli, events_file: EventsFile
) -> None:
    result = cli("ingest", str(events_file("mixed.jsonl", PARTLY_BAD)))
    assert result.exit_code == 1
    assert "accepted 1, duplicate 0, conflict 0, rejected 3" in result.stdout
    rows = [line for line in result.stdout.splitlines() if "rejected │" in line]
    assert len(rows) == 3
    assert "2 │ line 2" in rows[0] and "malformed JSON" in rows[0]
    assert rows[1].lstrip("│ ").startswith("3 ") and "unknown account 'nobody'" in rows[1]
    assert "properties.tokens" in rows[2] and "call-3" in rows[2]


@pytest.mark.usefixtures("metered")
def test_same_id_with_other_content_is_a_conflict(cli: Cli, events_file: EventsFile) -> None:
    cli("ingest", str(events_file()))
    changed = {**EVENTS[0], "properties": {"region": "eu", "tokens": 6}}
    report = cli("ingest", str(events_file("changed.jsonl", [changed])), "--json")
    assert report.exit_code == 1
    [problem] = orjson.loads(report.stdout)["problems"]
    assert problem["item"] == 1 and problem["status"] == "conflict"
    assert problem["errors"][0]["field"] == "id"


@pytest.mark.usefixtures("metered")
def test_only_the_first_20_problems_are_listed(cli: Cli, events_file: EventsFile) -> None:
    report = cli("ingest", str(events_file("bad.jsonl", ["[]"] * 25)), "--json")
    assert report.exit_code == 1
    problems = orjson.loads(report.stdout)["problems"]
    assert [p["item"] for p in problems] == list(range(1, 21))


@pytest.mark.usefixtures("metered")
def test_acks_file_gets_the_running_count_after_each_chunk(
    cli: Cli, events_file: EventsFile, tmp_path: Path
) -> None:
    five = [*EVENTS, {**EVENTS[0], "id": "call-4"}, {**EVENTS[1], "id": "call-5"}]
    acks = tmp_path / "acks"
    result = cli("ingest", str(events_file(events=five)), "--chunk", "2", "--acks", str(acks))
    assert result.exit_code == 0, result.output
    assert acks.read_text() == "2\n4\n5\n"


@pytest.mark.usefixtures("metered")
@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("events.txt", "{}", "error: path: unknown events file suffix"),
        ("events.csv", "id,id\n1,2\n", "error: id: the column appears more than once"),
        ("events.parquet", "not parquet", "error: path: not a readable Parquet file"),
    ],
)
def test_an_unreadable_file_exits_2_and_ingests_nothing(
    cli: Cli, engine: Engine, metered: Tenant, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = cli("ingest", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert events_on_record(engine, metered) == 0


def test_a_missing_file_or_unknown_format_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    assert cli("ingest", str(tmp_path / "absent.jsonl")).exit_code == 2
    assert cli("ingest", str(tmp_path), "--format", "xml").exit_code == 2


def test_exit_codes_of_a_real_process(
    engine: Engine, metered: Tenant, events_file: EventsFile, tmp_path: Path
) -> None:
    """0, 1 and 2 as a shell sees them; the three runs go at once to keep the test quick."""
    environment = {
        **os.environ,
        "VALUEPROOF_DATABASE_URL": database_url_of(engine),
        "VALUEPROOF_TENANT": metered.slug,
    }
    unreadable = tmp_path / "garbage.parquet"
    unreadable.write_bytes(b"PAR1 but not really")
    files = {
        0: events_file(),
        1: events_file("mixed.jsonl", [{**EVENTS[0], "id": "other-1"}, "not json"]),
        2: unreadable,
    }
    runs = {
        code: subprocess.Popen(
            [sys.executable, "-m", "valueproof.cli.main", "ingest", str(path)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for code, path in files.items()
    }
    outputs = {code: run.communicate(timeout=120) for code, run in runs.items()}
    for code, run in runs.items():
        assert run.returncode == code, outputs[code]
        assert "Traceback" not in outputs[code][1]
    assert "accepted 3, duplicate 0, conflict 0, rejected 0" in outputs[0][0]
    assert "accepted 1, duplicate 0, conflict 0, rejected 1" in outputs[1][0]
    assert outputs[2][1].startswith("error: path: not a readable Parquet file")
    assert events_on_record(engine, metered) == 4


@pytest.mark.usefixtures("metered")
def test_an_item_with_a_nul_byte_is_rejected_naming_the_field_on_every_backend(
    cli: Cli, events_file: EventsFile, engine: Engine, tenant: Tenant
) -> None:
    items = [EVENTS[0], {**EVENTS[1], "id": "call\u00002"}, {**EVENTS[2], "account": "glo\u0000"}]
    result = cli("ingest", str(events_file("nul.jsonl", items)), "--json")
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.stdout)
    assert counts(report) == (1, 0, 0, 2)
    fields = [error["field"] for problem in report["problems"] for error in problem["errors"]]
    assert fields == ["id", "account"]
    assert events_on_record(engine, tenant) == 1
