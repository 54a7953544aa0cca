"""The refresh against the store, both backends: a weekly pattern whose weekend trough stays
quiet, a real decline, an account gone quiet; alerts updated rather than repeated; health
scored with its trend; seasonal profiles kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import select
from typer.testing import CliRunner

from valueproof.cli.main import app
from valueproof.store import read, tenant_lock, write
from valueproof.success.alert_store import alert_queue
from valueproof.success.refresh import refresh
from valueproof.success.tables import success_health, success_profiles

from ..contracts.conftest import Priced

# Today, so that the API's refresh (which runs as of now) sees the same history as the store's.
NOW = datetime.now(UTC)
LAST = NOW.date() - timedelta(days=1)  # the last whole day


def weekly(day: date) -> int:
    """30 calls on weekdays, 6 on weekends: a strong weekly cycle."""
    return 6 if day.weekday() >= 5 else 30


def events(account: str, days: int, level: Any = weekly, stop: int = 0) -> list[dict[str, Any]]:
    """`days` days of calls up to LAST; the last `stop` days get `level`'s usage times 0.2."""
    found = []
    for back in range(days):
        day = LAST - timedelta(days=back)
        count = weekly(day) if back >= stop else max(1, round(weekly(day) * level))
        found.extend(
            {
                "id": f"{account}-{day}-{n}",
                "account": account,
                "type": "api.call",
                "timestamp": f"{day}T{n % 24:02d}:00:00Z",
                "properties": {"region": "eu"},
            }
            for n in range(count)
        )
    return found


def run(priced: Priced, now: datetime = NOW) -> Any:
    with write(priced.engine) as connection:
        tenant_lock(connection, priced.tenant.id)
        return refresh(connection, priced.tenant.id, now)


def test_a_decline_and_a_quiet_account_alert_while_a_weekend_trough_does_not(
    priced: Priced,
) -> None:
    steady = events("acme", 120)
    declining = events("globex", 120, level=0.2, stop=5)
    stopped = (LAST - timedelta(days=9)).isoformat()
    quiet = [e for e in events("initech", 120) if e["timestamp"] < stopped]
    for batch in (steady, declining, quiet):
        for start in range(0, len(batch), 2_000):
            priced.ingest(batch[start : start + 2_000])
    report = run(priced)
    assert report.accounts == 3 and report.meters == ["calls"] and report.scored == 3
    with read(priced.engine) as connection:
        queue = alert_queue(connection, priced.tenant.id)
        profiles = {
            row.account_id: orjson.loads(row.document)
            for row in connection.execute(select(success_profiles))
        }
        scores = connection.execute(
            select(
                success_health.c.account_id, success_health.c.score, success_health.c.breakdown
            ).where(success_health.c.tenant_id == priced.tenant.id)
        ).all()
    raised = {(a.account, a.type) for a in queue}
    assert ("globex", "decline") in raised
    assert ("initech", "quiet") in raised
    assert not any(account == "acme" for account, _ in raised)  # weekends are its norm
    decline = next(a for a in queue if (a.account, a.type) == ("globex", "decline"))
    assert decline.numbers["days"] >= 3 and decline.numbers["change"] < -0.5
    quiet_alert = next(a for a in queue if a.type == "quiet")
    assert quiet_alert.numbers["idle_days"] == 11  # last used ten whole days ago
    weekly_found = [
        p["detected"] for doc in profiles.values() for p in doc["periods"] if p["name"] == "weekly"
    ]
    assert weekly_found and all(weekly_found)  # every account's weekly cycle is found
    by_account = {row.account_id: row for row in scores}
    assert len(by_account) == 3
    ratios = {
        account: next(
            m["raw"]
            for m in orjson.loads(row.breakdown)["measures"]
            if m["key"] == "usage_vs_baseline"
        )
        for account, row in by_account.items()
    }
    assert sorted(r for r in ratios.values() if r is not None)[-1] > 0.8  # acme near its norm
    # A second refresh updates the same alerts and scores again with a trend.
    again = run(priced, NOW + timedelta(minutes=5))
    assert again.opened == 0 and again.updated == report.opened
    with read(priced.engine) as connection:
        latest = alert_queue(connection, priced.tenant.id)
        trends = [
            orjson.loads(b)["trend"]
            for (b,) in connection.execute(
                select(success_health.c.breakdown).where(
                    success_health.c.tenant_id == priced.tenant.id,
                    success_health.c.scored_us > int(NOW.timestamp() * 1_000_000),
                )
            )
        ]
    assert {a.id for a in latest} == {a.id for a in queue}
    assert all(a.times_seen == 2 for a in latest)
    assert trends and all(t is not None and t["direction"] == "flat" for t in trends)


def test_refresh_health_and_seasonality_over_http_and_on_the_command_line(
    priced: Priced, http: httpx.Client, tmp_path: Path
) -> None:
    for account, level in (("acme", 1.0), ("globex", 0.2)):
        batch = events(account, 120, level=level, stop=5)
        for start in range(0, len(batch), 2_000):
            priced.ingest(batch[start : start + 2_000])
    done = http.post("/v1/success/refresh", json={"accounts": ["globex"]})
    assert done.status_code == 200, done.text
    assert done.json()["accounts"] == 1 and done.json()["alerts"]["opened"] >= 1
    everyone = http.post("/v1/success/refresh")
    assert everyone.json()["accounts"] == 3 and everyone.json()["scored"] >= 2
    table = http.get("/v1/health").json()["accounts"]
    assert [row["account"] for row in table][-1] in {"acme", "globex", "initech"}
    scored = [row for row in table if row["score"] is not None]
    assert scored == sorted(scored, key=lambda row: row["score"])  # lowest first
    globex = http.get("/v1/accounts/globex/health").json()
    assert {m["key"] for m in globex["measures"]} >= {"usage_vs_baseline", "commitment_pace"}
    assert globex["trend"] is not None  # scored twice
    season = http.get("/v1/accounts/acme/seasonality").json()
    [calls] = season["meters"]
    assert calls["meter"] == "calls" and len(calls["recent"]["days"]) == 14
    assert any(p["name"] == "weekly" and p["detected"] for p in calls["periods"])
    assert http.get("/v1/accounts/nobody/health").status_code in (404, 422)
    assert http.post("/v1/success/refresh", json={"accounts": "acme"}).status_code == 422
    url = priced.engine.url.render_as_string(hide_password=False)
    base = ["--database-url", url, "success"]
    tail = ["--tenant", priced.tenant.slug]
    cli = CliRunner()
    refreshed = cli.invoke(app, [*base, "refresh", "acme", *tail])
    assert refreshed.exit_code == 0 and refreshed.stdout.startswith("1 accounts"), refreshed.output
    health = cli.invoke(app, [*base, "health", *tail])
    assert health.exit_code == 0 and "globex" in health.stdout
    one = cli.invoke(app, [*base, "health", "globex", *tail, "--json"])
    assert orjson.loads(one.stdout)["account"] == "globex"
    seasons = cli.invoke(app, [*base, "seasonality", "acme", *tail])
    assert seasons.exit_code == 0 and "weekly" in seasons.stdout


def test_short_histories_say_why_and_as_of_moves_the_refresh_back(
    priced: Priced, http: httpx.Client
) -> None:
    # 40 days of history: no baseline yet, and the profile says why; 70 days are enough
    for account, days in (("acme", 40), ("globex", 70)):
        batch = events(account, days)
        for start in range(0, len(batch), 2_000):
            priced.ingest(batch[start : start + 2_000])
    run(priced)
    acme = http.get("/v1/accounts/acme/seasonality").json()["meters"]
    globex = http.get("/v1/accounts/globex/seasonality").json()["meters"]
    assert acme[0]["periods"] == [] and "needs 70" in acme[0]["reason"]
    assert acme[0]["history_days"] == 35  # whole weeks of its own history
    assert "reason" not in globex[0] and globex[0]["history_days"] == 70
    url = priced.engine.url.render_as_string(hide_password=False)
    cli = CliRunner()
    told = cli.invoke(
        app,
        ["--database-url", url, "success", "seasonality", "acme", "--tenant", priced.tenant.slug],
    )
    assert told.exit_code == 0 and "no baseline yet" in told.stdout
    # As of 35 days ago globex had 35 days: too short; the API and the CLI both take the date.
    past = (NOW - timedelta(days=35)).isoformat()
    back = http.post("/v1/success/refresh", params={"as_of": past})
    assert back.status_code == 200, back.text
    refreshed = http.get("/v1/accounts/globex/seasonality").json()["meters"][0]
    assert "needs 70" in refreshed["reason"]
    future = (NOW + timedelta(days=2)).isoformat()
    refused = http.post("/v1/success/refresh", json={"as_of": future})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("as_of:")
    cli_refused = cli.invoke(
        app,
        [
            "--database-url",
            url,
            "success",
            "refresh",
            "--as-of",
            future,
            "--tenant",
            priced.tenant.slug,
        ],
    )
    assert cli_refused.exit_code == 2 and "--as-of" in cli_refused.output
