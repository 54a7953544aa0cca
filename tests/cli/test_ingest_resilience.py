"""`valueproof ingest` on both backends with files that hold bad lines: each is rejected with its
line and reason, the run goes on chunk after chunk, and the exit code says so; a .gz past its
cap stops the run naming the line; `meters apply` over bad values on record names them."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, func, select

from valueproof.metering.tables import events
from valueproof.store import read
from valueproof.tenancy.tenants import Tenant

from .conftest import EVENTS, Cli

COUNTS = ("accepted", "duplicate", "conflict", "rejected")


def call(event_id: str, **changes: Any) -> dict[str, Any]:
    return {**EVENTS[0], "id": event_id, **changes}


def tokens(event_id: str, count: Any) -> dict[str, Any]:
    return call(event_id, properties={"region": "eu", "tokens": count})


def write_lines(path: Path, *lines: Any) -> Path:
    text = "".join(
        (line if isinstance(line, str) else orjson.dumps(line).decode()) + "\n" for line in lines
    )
    path.write_text(text)
    return path


def on_record(engine: Engine, tenant: Tenant) -> int:
    with read(engine) as connection:
        query = select(func.count()).select_from(events).where(events.c.tenant_id == tenant.id)
        return int(connection.execute(query).scalar_one())


@pytest.mark.usefixtures("metered")
def test_every_bad_line_is_named_and_the_run_goes_on(
    cli: Cli, tmp_path: Path, engine: Engine, tenant: Tenant
) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        call("ok-1"),
        tokens("negative", -5),
        tokens("huge", 10_000_000_000_000),
        '{"id": "dup", "id": "dup-2"}',
        '{"id": "long", "padding": "' + "x" * 400 + '"}',
        call("nul\u0000id"),
        call("spaced", value=" 3 "),
        call("underscored", value="1_000"),
        orjson.dumps(tokens("big", 1))
        .decode()
        .replace('"tokens":1}', '"tokens":18446744073709551616}'),
        "",
        call("ok-2"),
    )
    result = cli("ingest", str(path), "--json", "--chunk", "2", "--max-line-bytes", "300")
    assert result.exit_code == 1, result.output
    report = orjson.loads(result.stdout)
    assert tuple(report[name] for name in COUNTS) == (2, 0, 0, 8)
    problems = {p["item"]: p for p in report["problems"]}
    fields = {item: [e["field"] for e in p["errors"]] for item, p in problems.items()}
    assert fields == {
        2: ["properties.tokens"],
        3: ["properties.tokens"],
        4: ["(item)"],
        5: ["(item)"],
        6: ["id"],
        7: ["value"],
        8: ["value"],
        9: ["properties.tokens"],
    }
    assert "must not be negative" in problems[2]["errors"][0]["reason"]
    assert "out of range" in problems[3]["errors"][0]["reason"]
    assert problems[4]["location"] == "line 4" and "duplicate key 'id'" in str(problems[4])
    assert problems[5]["location"] == "line 5" and "--max-line-bytes" in str(problems[5])
    assert on_record(engine, tenant) == 2


@pytest.mark.usefixtures("metered")
def test_a_gzip_past_its_cap_stops_the_run_naming_the_line(
    cli: Cli, tmp_path: Path, engine: Engine, tenant: Tenant
) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    head = b"".join(orjson.dumps(e) + b"\n" for e in EVENTS)
    path.write_bytes(gzip.compress(head + b"\n" * (2 << 20) + orjson.dumps(call("late")) + b"\n"))
    result = cli("ingest", str(path), "--chunk", "1", "--max-decompressed-bytes", "1048576")
    assert result.exit_code == 2
    assert "decompresses to more than 1,048,576 bytes" in result.stderr
    assert re.search(r"reached at line \d{7}\n", result.stderr)  # in the blank lines
    assert "3 items were acknowledged" in result.stderr
    assert on_record(engine, tenant) == 3
    roomy = cli("ingest", str(path), "--json", "--max-decompressed-bytes", str(4 << 20))
    assert roomy.exit_code == 0, roomy.output
    assert tuple(orjson.loads(roomy.stdout)[name] for name in COUNTS) == (1, 3, 0, 0)


def test_meters_apply_over_bad_values_on_record_names_them(
    cli: Cli, tmp_path: Path, engine: Engine, tenant: Tenant
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "event_types:\n"
        "  - key: api_call\n"
        "    properties:\n"
        "      region: {type: string, required: true}\n"
        "      tokens: {type: number, required: true}\n"
    )
    assert cli("meters", "apply", str(catalog)).exit_code == 0
    assert cli("accounts", "create", "acme", "--name", "Acme").exit_code == 0
    path = write_lines(tmp_path / "before.jsonl", tokens("a", 5), tokens("b", 0.1234567))
    assert cli("ingest", str(path)).exit_code == 0  # no meter reads `tokens` yet
    catalog.write_text(
        catalog.read_text() + "meters:\n"
        "  - {key: tokens, event_type: api_call, aggregation: sum, value_property: tokens}\n"
    )
    applied = cli("meters", "apply", str(catalog), "--json")
    assert applied.exit_code == 0, applied.output
    [meter] = [a for a in orjson.loads(applied.stdout)["applied"] if a["kind"] == "meter"]
    assert (meter["events_folded"], meter["events_unmetered"]) == (1, 1)
    assert meter["unmetered"] == [
        {"id": "b", "field": "properties.tokens", "reason": "has more than 6 decimal places"}
    ]
    shown = cli("meters", "apply", str(catalog))
    assert shown.exit_code == 0 and "unchanged" in shown.stdout
