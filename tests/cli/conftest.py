"""Fixtures for the CLI tests: the app run in-process on the backend's database, as the test's
own tenant, and small events files in every format."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.registry import apply_event_type, apply_meter
from valueproof.store import write
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

CATALOG_YAML = """\
event_types:
  - key: api_call
    description: One call to the public API.
    properties:
      region: {type: string, required: true}
      tokens: {type: integer, required: true}
meters:
  - key: calls
    event_type: api_call
    aggregation: count
    group_by: [region]
    unit: call
  - key: tokens
    event_type: api_call
    aggregation: sum
    value_property: tokens
    unit: token
"""

ACCOUNTS = ("acme", "globex")

# Three calls on 2024-05-01: acme 5 + 7 tokens (eu, us), globex 11 tokens (eu).
EVENTS: list[dict[str, Any]] = [
    {
        "id": "call-1",
        "account": "acme",
        "type": "api_call",
        "timestamp": "2024-05-01T10:15:00Z",
        "properties": {"region": "eu", "tokens": 5},
    },
    {
        "id": "call-2",
        "account": "acme",
        "type": "api_call",
        "timestamp": "2024-05-01T11:30:00Z",
        "properties": {"region": "us", "tokens": 7},
    },
    {
        "id": "call-3",
        "account": "globex",
        "type": "api_call",
        "timestamp": "2024-05-01T11:45:00Z",
        "properties": {"region": "eu", "tokens": 11},
    },
]


def database_url_of(engine: Engine) -> str:
    """The URL a separate process needs to reach the engine's database."""
    return engine.url.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Cli:
    """Runs `valueproof` in-process against one database, as one tenant."""

    database_url: str
    tenant: str

    def __call__(self, *args: str) -> Result:
        """A tenant-scoped command: `--tenant` is appended."""
        return self.root(*args, "--tenant", self.tenant)

    def root(self, *args: str) -> Result:
        """Any command, with only `--database-url` given."""
        result = CliRunner().invoke(app, ["--database-url", self.database_url, *args])
        # Our errors end in a message and an exit code, never in an exception or a traceback.
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> Any:
        """A tenant-scoped command run with `--json`, its stdout parsed."""
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return orjson.loads(result.stdout)


@pytest.fixture
def cli(engine: Engine, tenant: Tenant) -> Cli:
    """The CLI on this backend's database, acting as the test's tenant."""
    return Cli(database_url_of(engine), tenant.slug)


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    """A catalogue file with one event type and two meters on it."""
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG_YAML)
    return path


@pytest.fixture
def metered(engine: Engine, tenant: Tenant, catalog_file: Path) -> Tenant:
    """The test's tenant with the catalogue of CATALOG_YAML and the accounts of ACCOUNTS."""
    document = yaml.safe_load(catalog_file.read_text())
    with write(engine) as connection:
        for event_type in document["event_types"]:
            apply_event_type(connection, tenant.id, EventType.model_validate(event_type))
        for meter in document["meters"]:
            apply_meter(connection, tenant.id, Meter.model_validate(meter))
        for external_id in ACCOUNTS:
            create_account(
                connection, tenant.id, AccountCreate(external_id=external_id, name=external_id)
            )
    return tenant


EventsFile = Callable[..., Path]


@pytest.fixture
def events_file(tmp_path: Path) -> EventsFile:
    """Write events (default: EVENTS) as `name` in the format its suffix names."""

    def make(name: str = "events.jsonl", events: list[Any] | None = None) -> Path:
        path = tmp_path / name
        rows = EVENTS if events is None else events
        if path.suffix == ".csv":
            _write_csv(path, rows)
        elif path.suffix == ".parquet":
            _write_parquet(path, rows)
        else:
            lines = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in rows]
            path.write_text("".join(f"{line}\n" for line in lines))
        return path

    return make


def _flat(event: dict[str, Any]) -> dict[str, Any]:
    """CSV and Parquet spell properties as `properties.<name>` columns."""
    flat = {key: value for key, value in event.items() if key != "properties"}
    flat.update({f"properties.{k}": v for k, v in event["properties"].items()})
    return flat


def _write_csv(path: Path, events: list[dict[str, Any]]) -> None:
    rows = [_flat(event) for event in events]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _write_parquet(path: Path, events: list[dict[str, Any]]) -> None:
    pq.write_table(pa.Table.from_pylist([_flat(event) for event in events]), path)
