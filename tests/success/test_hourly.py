"""Hourly cycles read from the store: Taylor's electricity demand ingested hour by hour shows
its daily (24 h) and weekly (168 h) periods, on both backends, over HTTP and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import orjson
import pmdarima.datasets as bundled
from typer.testing import CliRunner

from valueproof.cli.main import app

from ..contracts.conftest import Priced

HOURS = 4 * 168  # four weeks: two whole weekly cycles


def taylor_hours() -> np.ndarray:
    # half-hourly demand (Taylor 2003), pairs of half-hours summed to hours; the last 4 weeks
    hourly = np.asarray(bundled.load_taylor(), dtype=np.float64).reshape(-1, 2).sum(axis=1)
    return np.asarray(hourly[-HOURS:])


def test_taylor_ingested_hourly_shows_its_daily_and_weekly_cycles(
    priced: Priced, http: httpx.Client
) -> None:
    demand = taylor_hours()
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    first = last - timedelta(hours=HOURS - 1)
    events = [
        {
            "id": f"acme-{h}",
            "account": "acme",
            "type": "payment",
            "timestamp": (first + timedelta(hours=h, minutes=10)).isoformat(),
            "properties": {"amount": round(float(value), 2)},
        }
        for h, value in enumerate(demand)
    ]
    events += [
        {
            "id": f"globex-{h}",
            "account": "globex",
            "type": "payment",
            "timestamp": (last - timedelta(hours=h)).isoformat(),
            "properties": {"amount": 5},
        }
        for h in range(30)
    ]
    priced.ingest(events)
    answer = http.get("/v1/accounts/acme/seasonality", params={"granularity": "hourly"})
    assert answer.status_code == 200, answer.text
    [payments] = answer.json()["meters"]
    assert payments["meter"] == "payments" and payments["hours"] >= HOURS - 24
    found = {p["name"]: p for p in payments["periods"]}
    assert found["daily"]["detected"] and found["weekly"]["detected"], payments
    assert found["daily"]["strength"] > 0.6
    # the busiest hour of the typical day is the hour of day with the most demand
    hour_of_day = np.array([(first + timedelta(hours=h)).hour for h in range(HOURS)])
    means = [demand[hour_of_day == h].mean() for h in range(24)]
    assert payments["busiest_hour_utc"] == int(np.argmax(means))
    short = http.get("/v1/accounts/globex/seasonality", params={"granularity": "hourly"})
    [few] = short.json()["meters"]
    assert few["periods"] == [] and "needs 48" in few["reason"]
    assert (
        http.get("/v1/accounts/acme/seasonality", params={"granularity": "weekly"}).status_code
        == 422
    )
    url = priced.engine.url.render_as_string(hide_password=False)
    cli = CliRunner().invoke(
        app,
        [
            "--database-url",
            url,
            "success",
            "seasonality",
            "acme",
            "--hourly",
            "--json",
            "--tenant",
            priced.tenant.slug,
        ],
    )
    assert cli.exit_code == 0, cli.output
    shown = orjson.loads(cli.stdout)
    assert shown["granularity"] == "hourly"
    assert shown["meters"][0]["busiest_hour_utc"] == payments["busiest_hour_utc"]
