"""`valueproof contract validate|apply` and `valueproof preview` on a contract naming an oracle
metric nobody registered: refused (exit 2), or warned of on stderr when declared pending."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from valueproof.ledger.log import log_size
from valueproof.store import read
from valueproof.tenancy.tenants import Tenant

from .conftest import Cli

CONTRACT = """\
contract: acme-2024
account: acme
currency: USD
term: {start: 2024-05-01}
components:
  - id: retention
    type: gain_share
    metric: nrr
    baseline: {value: 100}
    value_per_unit: "1000.00"
    tiers: [{threshold: 5, percent: 10}]
"""


def test_an_unregistered_metric_is_refused_and_nothing_is_stored(
    cli: Cli, metered: Tenant, tmp_path: Path, engine: Engine
) -> None:
    path = tmp_path / "nrr.yaml"
    path.write_text(CONTRACT)
    for command in ("validate", "apply"):
        refused = cli("contract", command, str(path))
        assert refused.exit_code == 2, refused.output
        assert refused.stderr.startswith(
            "error: components[0].metric: no oracle metric 'nrr' is registered; define it first"
        )
    with read(engine) as connection:
        assert log_size(connection, metered.id) == 0


def test_a_pending_metric_is_applied_and_every_preview_warns(
    cli: Cli, metered: Tenant, tmp_path: Path
) -> None:
    path = tmp_path / "nrr.yaml"
    path.write_text(CONTRACT + "pending: {metrics: [nrr]}\n")
    checked = cli("contract", "validate", str(path))
    assert checked.exit_code == 0, checked.output
    assert checked.stderr.startswith("warning: pending.metrics[0]: no oracle metric 'nrr'")
    assert cli("contract", "apply", str(path)).exit_code == 0
    shown = cli("preview", "acme", "--at", "2024-05-10T00:00:00Z")
    assert shown.exit_code == 0, shown.output
    assert shown.stderr.startswith("warning: components[0].metric: no oracle metric 'nrr'")
    found = cli.json("preview", "acme", "--at", "2024-05-10T00:00:00Z")
    assert [w["field"] for w in found["period_to_date"]["warnings"]] == ["components[0].metric"]
