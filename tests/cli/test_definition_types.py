"""`valueproof outcomes define` on both backends: a key whose types clash is refused (exit 2)
with its line and column, and nothing is recorded."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import Engine

from valueproof.ledger.log import log_size
from valueproof.store import read
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli

DEFINITION = {
    "contract": "acme-leads",
    "outcome": "qualified_lead",
    "attributes": {
        "email": {"type": "string", "required": True},
        "booked": {"type": "timestamp", "required": True},
    },
    "criteria": [{"name": "recent", "expression": "claim.email != ''"}],
    "dedupe_key": "claim.email",
    "verification_window_days": 30,
    "dispute_window_days": 30,
}


def test_a_clash_is_refused_with_its_position_and_nothing_recorded(
    cli: Cli, tenant: Tenant, engine: Engine, tmp_path: Path
) -> None:
    clashing = {
        **DEFINITION,
        "criteria": [
            {"name": "recent", "expression": "claim.email != '' &&\n claim.booked > '2026'"}
        ],
    }
    path = tmp_path / "lead.yaml"
    path.write_text(yaml.safe_dump(clashing))
    refused = cli("outcomes", "define", str(path))
    assert refused.exit_code == 2, refused.output
    assert (
        "criteria[0].expression: line 2, column 15: > compares a timestamp with a string"
        in refused.stderr
    )
    with read(engine) as connection:
        assert log_size(connection, tenant.id) == 0
    path.write_text(yaml.safe_dump(DEFINITION))
    assert cli("outcomes", "define", str(path)).exit_code == 0
