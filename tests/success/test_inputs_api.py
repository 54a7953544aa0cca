"""Engagements, driver series and segments over real HTTP, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from typer.testing import CliRunner

from valueproof.cli.main import app

from ..contracts.conftest import Priced

LAST = datetime.now(UTC).date() - timedelta(days=1)
DAYS = 70


def orders(back: int) -> int:
    """The customer's own daily orders: a weekly swing and a slow rise."""
    day = LAST - timedelta(days=back)
    return 10 + (8 if day.weekday() < 5 else 0) + (DAYS - back) // 10


def calls(account: str, per_order: int, noise: bool = False) -> list[dict[str, Any]]:
    found = []
    for back in range(DAYS):
        day = LAST - timedelta(days=back)
        count = per_order * orders(back) + ((back * 7) % 3 if noise else 0)
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


def load(priced: Priced, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 2_000):
        priced.ingest(events[start : start + 2_000])


def test_engagements_are_recorded_and_listed_newest_first(http: httpx.Client) -> None:
    assert http.post("/v1/accounts", json={"external_id": "acme", "name": "Acme"}).is_success
    first = http.post(
        "/v1/accounts/acme/engagements",
        json={"kind": "call", "by": "Dana", "note": "Kick-off", "at": "2026-10-01T10:00:00Z"},
    )
    assert first.status_code == 201, first.text
    second = http.post(
        "/v1/accounts/acme/engagements", json={"kind": "business_review", "by": "Dana"}
    )
    assert second.status_code == 201
    listed = http.get("/v1/accounts/acme/engagements").json()["engagements"]
    assert [e["kind"] for e in listed] == ["business_review", "call"]
    bad = {
        "kind": http.post("/v1/accounts/acme/engagements", json={"kind": "lunch", "by": "Dana"}),
        "by": http.post("/v1/accounts/acme/engagements", json={"kind": "call"}),
        "at": http.post(
            "/v1/accounts/acme/engagements", json={"kind": "call", "by": "D", "at": "soon"}
        ),
    }
    for field, answer in bad.items():
        assert answer.status_code == 422 and answer.json()["detail"].startswith(f"{field}:")
    assert (
        http.post("/v1/accounts/nobody/engagements", json={"kind": "call", "by": "D"}).status_code
        == 404
    )


def test_a_driver_that_drives_usage_explains_nearly_all_of_it(
    priced: Priced, http: httpx.Client
) -> None:
    load(priced, calls("acme", per_order=3, noise=True))
    points = [
        {"day": (LAST - timedelta(days=back)).isoformat(), "value": orders(back)}
        for back in range(DAYS)
    ]
    put = http.put("/v1/accounts/acme/drivers/orders", json={"points": points})
    assert put.status_code == 200 and put.json() == {"driver": "orders", "points": DAYS}
    found = http.get("/v1/accounts/acme/drivers", params={"meter": "calls"})
    assert found.status_code == 200, found.text
    analysis = found.json()
    assert analysis["r_squared"] > 0.98 and analysis["observations"] == DAYS
    [driver] = analysis["drivers"]
    assert driver["driver"] == "orders" and abs(driver["coefficient"] - 3) < 0.1
    assert "orders" in analysis["summary"]
    broken = [*points[:3], {"day": points[3]["day"], "value": "many"}]
    refused = http.put("/v1/accounts/acme/drivers/orders", json={"points": broken})
    assert refused.status_code == 422 and refused.json()["detail"].startswith("points[3].value:")
    again = http.get("/v1/accounts/acme/drivers", params={"meter": "calls"}).json()
    assert again["observations"] == DAYS  # the refused upload changed nothing
    no_drivers = http.get("/v1/accounts/globex/drivers", params={"meter": "calls"})
    assert no_drivers.status_code == 422 and no_drivers.json()["detail"].startswith("drivers:")
    unknown = http.get("/v1/accounts/acme/drivers", params={"meter": "active_users"})
    assert unknown.status_code == 422 and unknown.json()["detail"].startswith("meter:")


def test_segments_by_rule_and_by_usage_with_their_words(priced: Priced, http: httpx.Client) -> None:
    load(priced, calls("acme", per_order=4))
    load(priced, calls("globex", per_order=1))
    rules = {
        "rules": [{"segment": "big", "when": "usage.volume > 40.0"}],
        "default": "small",
    }
    assert http.put("/v1/success/settings/segments", json=rules).status_code == 200
    bad = http.put(
        "/v1/success/settings/segments", json={"rules": [{"segment": "x", "when": "(("}]}
    )
    assert bad.status_code == 422 and "rules[0].when" in bad.json()["detail"]
    done = http.post("/v1/success/segments", json={"k": 2})
    assert done.status_code == 200, done.text
    report = done.json()
    assert report["meter"] == "calls" and report["accounts"] == 2 and report["rules"] is True
    assert sum(c["size"] for c in report["clusters"]) == 2
    rows = http.get("/v1/segments").json()["segments"]
    by_rule = {r["account"]: r["segment"] for r in rows if r["kind"] == "rule"}
    assert by_rule == {"acme": "big", "globex": "small", "initech": "small"}
    words = {r["account"]: r["explanation"] for r in rows if r["kind"] == "usage"}
    assert "high volume" in words["acme"] and "low volume" in words["globex"]
    assert http.post("/v1/success/segments", json={"k": 0}).status_code == 422


def test_the_command_line_segments_engages_and_explains(priced: Priced) -> None:
    load(priced, calls("acme", per_order=2))
    load(priced, calls("globex", per_order=1))
    url = priced.engine.url.render_as_string(hide_password=False)

    def cli(*args: str) -> Any:
        result = CliRunner().invoke(
            app, ["--database-url", url, "success", *args, "--tenant", priced.tenant.slug]
        )
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result

    segmented = cli("segment", "--k", "2")
    assert segmented.exit_code == 0 and "2 accounts clustered on calls" in segmented.stdout
    engaged = cli("engage", "acme", "--kind", "meeting", "--by", "Dana", "--note", "QBR prep")
    assert engaged.exit_code == 0 and "recorded (meeting by Dana)" in engaged.stdout
    assert cli("engage", "acme", "--kind", "lunch", "--by", "Dana").exit_code == 2
    assert cli("drivers", "acme", "--meter", "calls").exit_code == 2  # no driver series yet
