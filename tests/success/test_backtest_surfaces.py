"""The backtest on stored usage, both backends: an account that stops is seen as quiet and as a
decline, with its delay; the same replay over HTTP and on the command line, and its refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from typer.testing import CliRunner, Result

from valueproof.cli.main import app
from valueproof.store import read
from valueproof.success.backtest import Label
from valueproof.success.backtest_store import backtest

from ..contracts.conftest import Priced

LAST = datetime.now(UTC).date() - timedelta(days=1)  # the last whole day
STOP = LAST - timedelta(days=14)  # initech's first day without usage


def calls(account: str, days: int, stop: date | None = None) -> list[dict[str, Any]]:
    """`days` days of calls up to LAST with a weekly cycle; none from `stop` on."""
    found = []
    for back in range(days):
        day = LAST - timedelta(days=back)
        if stop is not None and day >= stop:
            continue
        count = 4 if day.weekday() >= 5 else 16
        found.extend(
            {
                "id": f"{account}-{day}-{n}",
                "account": account,
                "type": "api.call",
                "timestamp": f"{day}T{n:02d}:00:00Z",
                "properties": {"region": "eu"},
            }
            for n in range(count)
        )
    return found


def seed(priced: Priced) -> None:
    for batch in (calls("acme", 110), calls("initech", 110, STOP)):
        for start in range(0, len(batch), 2_000):
            priced.ingest(batch[start : start + 2_000])


LABELS = [Label("initech", "quiet", STOP), Label("initech", "decline", STOP)]


def test_a_stopped_account_is_detected_as_quiet_and_as_a_decline(priced: Priced) -> None:
    seed(priced)
    first = STOP - timedelta(days=5)
    with read(priced.engine) as connection:
        found = backtest(connection, priced.tenant.id, first, LAST, LABELS)
    scores = {s.type: s for s in found.scores}
    assert found.meters == ("calls",) and len(found.days) == 20 and len(found.accounts) == 3
    # Last used the day before STOP: the quiet rule's 7 idle days are reached on STOP + 6.
    assert (scores["quiet"].recall, scores["quiet"].median_delay_days) == (1.0, 6.0)
    assert scores["quiet"].precision == 1.0
    assert scores["decline"].recall == 1.0
    delay = scores["decline"].median_delay_days
    assert delay is not None and delay <= 6
    assert not any(e.account == "acme" for e in found.episodes)  # the steady one stays quiet


def cli(priced: Priced, *args: str) -> Result:
    url = priced.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        app, ["--database-url", url, "success", *args, "--tenant", priced.tenant.slug]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_the_backtest_on_the_command_line(priced: Priced, tmp_path: Path) -> None:
    seed(priced)
    labels = tmp_path / "labels.csv"
    labels.write_text(f"account,type,start,end\ninitech,quiet,{STOP},\n", encoding="utf-8")
    window = ("--from", str(STOP - timedelta(days=5)), "--to", str(LAST))
    table = cli(priced, "backtest", *window, "--labels", str(labels), "--every", "2")
    assert table.exit_code == 0, table.output
    assert "10 replay days" in table.output and "not replayed: commitment_at_risk" in table.output
    shown = cli(
        priced, "backtest", *window, "--labels", str(labels), "--account", "initech", "--json"
    )
    document = orjson.loads(shown.stdout)
    quiet = next(t for t in document["types"] if t["type"] == "quiet")
    assert document["accounts"] == 1 and (quiet["recall"], quiet["median_delay_days"]) == (1, 6)
    labels.write_text("account,type,start\ninitech,outage,2025-01-01\n,quiet,soon\n", "utf-8")
    bad = cli(priced, "backtest", "--labels", str(labels))
    assert bad.exit_code == 2
    assert "line 2.type" in bad.output and "line 3.account" in bad.output
    assert "line 3.start" in bad.output
    assert cli(priced, "backtest", "--every", "0").exit_code == 2
    assert "--labels" in cli(priced, "backtest", "--labels", "nowhere.csv").output
    assert "no account 'nobody'" in cli(priced, "backtest", "--account", "nobody").output


def test_the_backtest_over_http(priced: Priced, http: httpx.Client) -> None:
    seed(priced)
    body = {
        "from": str(STOP - timedelta(days=5)),
        "to": str(LAST),
        "every": 5,
        "labels": [{"account": "initech", "type": "quiet", "start": str(STOP)}],
    }
    done = http.post("/v1/success/backtest", json=body)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["replay_days"] == 4 and answer["accounts"] == 3
    assert {t["type"] for t in answer["types"]} == {"decline", "surge", "quiet"}
    assert set(answer["left_out"]) == {"commitment_at_risk", "credit_runout"}
    bad = http.post(
        "/v1/success/backtest",
        json={"labels": [{"account": "x", "type": "quiet", "start": "later"}, {"type": "surge"}]},
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]][:1] == ["labels[0].start"]
    assert "labels[1].account" in bad.json()["detail"]
    assert http.post("/v1/success/backtest", json={"labels": "demo"}).status_code == 404
    assert http.post("/v1/success/backtest", json={"every": 0}).status_code == 422
