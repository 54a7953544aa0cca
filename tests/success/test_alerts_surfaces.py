"""The alert queue, snoozes and alert rules over real HTTP and on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.store import tenant_lock, write
from valueproof.success.alert_store import reconcile
from valueproof.success.alerts import Signal
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant


def raise_alerts(engine: Engine, tenant: Tenant) -> None:
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        for name in ("acme", "globex"):
            account = create_account(
                connection, tenant.id, AccountCreate(external_id=name, name=name)
            )
            signals = [Signal("decline", "calls", "warning", f"{name} down", {"days": 3})]
            if name == "globex":
                signals.append(Signal("quiet", "usage", "critical", "silent", {"idle_days": 9}))
            reconcile(connection, tenant.id, account.id, signals, ("decline", "quiet"), now_us())


def cli(engine: Engine, tenant: Tenant, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["--database-url", url, *args, "--tenant", tenant.slug])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_the_queue_and_a_snooze_over_http(
    engine: Engine, tenant: Tenant, http: httpx.Client
) -> None:
    raise_alerts(engine, tenant)
    queue = http.get("/v1/alerts").json()["alerts"]
    assert (queue[0]["account"], queue[0]["type"]) == ("globex", "quiet")
    assert len(queue) == 3 and queue[0]["numbers"] == {"idle_days": 9}
    only = http.get("/v1/alerts", params={"account": "acme"}).json()["alerts"]
    [acme] = only
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    snoozed = http.post(f"/v1/alerts/{acme['id']}/snooze", json={"until": until})
    assert snoozed.status_code == 200, snoozed.text
    assert snoozed.json()["status"] == "snoozed"
    assert [a["id"] for a in http.get("/v1/alerts").json()["alerts"]].count(acme["id"]) == 0
    assert [
        a["id"] for a in http.get("/v1/alerts", params={"status": "snoozed"}).json()["alerts"]
    ] == [acme["id"]]
    refusals = {
        "past": http.post(
            f"/v1/alerts/{acme['id']}/snooze", json={"until": "2020-01-01T00:00:00Z"}
        ),
        "missing": http.post(f"/v1/alerts/{acme['id']}/snooze", json={}),
        "unknown": http.post("/v1/alerts/999999/snooze", json={"until": until}),
        "status": http.get("/v1/alerts", params={"status": "closed"}),
    }
    assert {k: r.status_code for k, r in refusals.items()} == {
        "past": 422,
        "missing": 422,
        "unknown": 404,
        "status": 422,
    }
    assert refusals["past"].json()["detail"].startswith("until:")


def test_alert_rules_read_as_defaults_and_are_replaced_whole(
    engine: Engine, tenant: Tenant, http: httpx.Client
) -> None:
    defaults = http.get("/v1/success/settings/alerts").json()
    assert defaults["decline"] == {"enabled": True, "days": 3, "min_change": 0.05, "forgive": 1}
    assert defaults["surge"] == {"enabled": True, "days": 2, "min_change": 0.15, "forgive": 0}
    assert defaults["quiet"] == {"enabled": True, "days": 7, "rarity": 0.001}
    assert defaults["quiet"]["days"] == 7
    put = http.put("/v1/success/settings/alerts", json={"quiet": {"days": 14}})
    assert put.status_code == 200, put.text
    assert http.get("/v1/success/settings/alerts").json()["quiet"]["days"] == 14
    bad = http.put("/v1/success/settings/alerts", json={"decline": {"days": -1}})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("decline.days:")
    assert http.get("/v1/success/settings/alerts").json()["quiet"]["days"] == 14
    assert http.get("/v1/success/settings/nothing").status_code == 404


def test_the_command_line_lists_snoozes_and_sets_rules(
    engine: Engine, tenant: Tenant, tmp_path: Path
) -> None:
    raise_alerts(engine, tenant)
    table = cli(engine, tenant, "success", "alerts")
    assert table.exit_code == 0 and "globex" in table.stdout and "critical" in table.stdout
    listed: list[dict[str, Any]] = orjson.loads(
        cli(engine, tenant, "success", "alerts", "--json").stdout
    )["alerts"]
    until = (datetime.now(UTC) + timedelta(hours=5)).isoformat()
    done = cli(engine, tenant, "success", "snooze", str(listed[0]["id"]), "--until", until)
    assert done.exit_code == 0 and "snoozed until" in done.stdout
    assert cli(engine, tenant, "success", "snooze", "999999", "--until", until).exit_code == 3
    rules = tmp_path / "rules.yaml"
    rules.write_text("surge:\n  enabled: false\n")
    assert (
        orjson.loads(
            cli(engine, tenant, "success", "settings", "alerts", "--set", str(rules)).stdout
        )["surge"]["enabled"]
        is False
    )
    rules.write_text("surge:\n  days: 0\n")
    refused = cli(engine, tenant, "success", "settings", "alerts", "--set", str(rules))
    assert refused.exit_code == 2 and "surge.days" in refused.output
    shown = orjson.loads(cli(engine, tenant, "success", "settings", "alerts").stdout)
    assert shown["surge"]["enabled"] is False
    # a partial surge block keeps the documented surge default of 2 days, not decline's 3
    assert shown["surge"]["days"] == 2
