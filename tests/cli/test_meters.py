"""Tests for cli/meters.py and cli/catalog_file.py: apply a catalogue file whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CATALOG_YAML, Cli, EventsFile


def test_apply_creates_then_reports_unchanged(cli: Cli, catalog_file: Path) -> None:
    first = cli.json("meters", "apply", str(catalog_file))["applied"]
    assert [(a["kind"], a["key"], a["status"]) for a in first] == [
        ("event type", "api_call", "created"),
        ("meter", "calls", "created"),
        ("meter", "tokens", "created"),
    ]
    again = cli("meters", "apply", str(catalog_file))
    assert again.exit_code == 0, again.output
    assert again.stdout.count("unchanged") == 3

    assert [m["key"] for m in cli.json("meters", "list")["meters"]] == ["calls", "tokens"]
    assert cli.json("meters", "show", "tokens")["value_property"] == "tokens"
    shown = cli("meters", "show", "calls")
    assert "aggregation: count" in shown.stdout
    [event_type] = cli.json("event-types", "list")["event_types"]
    assert event_type["properties"]["tokens"] == {
        "type": "integer",
        "required": True,
        "description": "",
    }


def test_a_changed_meter_is_rebuilt_from_the_events_on_record(
    cli: Cli, catalog_file: Path, events_file: EventsFile
) -> None:
    cli("meters", "apply", str(catalog_file))
    for external_id in ("acme", "globex"):
        cli("accounts", "create", external_id, "--name", external_id)
    assert cli("ingest", str(events_file())).exit_code == 0
    catalog_file.write_text(CATALOG_YAML.replace("unit: token", "unit: kilotoken"))
    applied = cli.json("meters", "apply", str(catalog_file))["applied"]
    assert applied[2] == {
        "kind": "meter",
        "key": "tokens",
        "status": "updated",
        "events_folded": 3,
        "events_unmetered": 0,
        "unmetered": [],
    }


BAD_FILES = {
    "meters[0].group_by[0]": CATALOG_YAML.replace("group_by: [region]", "group_by: [colour]"),
    "meters[2].aggregation": CATALOG_YAML
    + "  - {key: avg, event_type: api_call, aggregation: average}\n",
    "meters[2].event_type": CATALOG_YAML + "  - {key: x, event_type: nope, aggregation: count}\n",
    "meters[2].key": CATALOG_YAML + "  - {key: calls, event_type: api_call, aggregation: count}\n",
    "event_types[0].properties": CATALOG_YAML.replace("{type: integer", "{type: decimal"),
    "unknown": CATALOG_YAML + "dashboards: []\n",
    "(document)": "event_types: [\n",
}


@pytest.mark.parametrize("field", list(BAD_FILES))
def test_a_bad_file_is_refused_with_its_path_and_nothing_applied(
    cli: Cli, tmp_path: Path, field: str
) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(BAD_FILES[field])
    result = cli("meters", "apply", str(path))
    assert result.exit_code == 2
    if field == "unknown":
        assert result.stderr.startswith("error: dashboards: unknown section")
    else:
        assert result.stderr.startswith(f"error: {field}")
    assert result.stdout == ""
    assert cli.json("event-types", "list")["event_types"] == []
    assert cli.json("meters", "list")["meters"] == []


def test_show_and_delete(cli: Cli, catalog_file: Path) -> None:
    cli("meters", "apply", str(catalog_file))
    assert cli("meters", "delete", "calls").exit_code == 0
    assert cli("meters", "show", "calls").exit_code == 3
    assert cli("meters", "delete", "calls").exit_code == 3
    in_use = cli("event-types", "delete", "api_call")
    assert in_use.exit_code == 4
    assert "used by meters: tokens" in in_use.stderr
    assert cli("meters", "delete", "tokens").exit_code == 0
    assert cli("event-types", "delete", "api_call").exit_code == 0


def test_a_nul_byte_in_the_catalogue_is_refused_naming_its_field(
    cli: Cli, catalog_file: Path
) -> None:
    catalog_file.write_text(
        CATALOG_YAML.replace("One call to the public API.", '"One call\\0 to the API."')
    )
    refused = cli("meters", "apply", str(catalog_file))
    assert refused.exit_code == 2
    assert "event_types[0].description: contains a NUL byte" in refused.stderr
    assert cli.json("meters", "list") == {"meters": []}  # refused whole: nothing applied
