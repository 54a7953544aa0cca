"""Utilization against the store, both backends: usage to date and its run rate, commitment
pace against a linear burn and the projected shortfall, days until prepaid credit runs out,
share of wallet from the customer's reported volume, and an account without a contract."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson
from typer.testing import CliRunner

from valueproof.cli.main import app
from valueproof.store import read, write
from valueproof.success.utilization import (
    Utilization,
    calendar_month,
    utilization,
    utilization_json,
)
from valueproof.tenancy.accounts import AccountPatch, get_account, update_account
from valueproof.tenancy.keys import Scope, create_api_key

from ..contracts.conftest import Priced, call, contract_document

NOW = datetime(2026, 11, 16, tzinfo=UTC)  # 360 of November's 720 hours have gone by
COMMITTED: list[dict[str, Any]] = [
    {"id": "platform", "type": "flat", "amount": "100.00"},
    {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "0.002"},
    {"id": "minimum", "type": "commitment", "minimum": "10.00", "applies_to": ["api"]},
    {
        "id": "wallet",
        "type": "prepaid_credits",
        "applies_to": ["api"],
        "grants": [{"id": "welcome", "amount": "5.00", "granted": "2026-11-01T00:00:00Z"}],
    },
]


def measured(priced: Priced, account: str = "acme", now: datetime = NOW) -> Utilization:
    with read(priced.engine) as connection:
        return utilization(connection, priced.tenant.id, account, now)


def test_usage_commitment_pace_and_credit_runway(priced: Priced) -> None:
    priced.apply(contract_document(components=COMMITTED))
    priced.ingest([call(i) for i in range(1000)])
    with write(priced.engine) as connection:
        update_account(
            connection,
            priced.tenant.id,
            "acme",
            AccountPatch(attributes={"reported_volume.calls": 10_000}),
        )
    found = measured(priced)
    assert (found.contract, found.currency, found.elapsed) == ("acme-2026", "USD", Decimal("0.5"))
    [calls] = found.meters  # no payments or logins were sent, so only calls shows
    assert (calls.to_date, calls.projected) == (Decimal(1000), Decimal(2000))
    assert calls.run_rate_per_day == Decimal("66.666667")  # 1000 calls in 15 days
    assert (calls.reported_total, calls.share_of_wallet) == (Decimal(10_000), Decimal("0.2"))
    [minimum] = found.commitments
    assert (minimum.committed_to_date, minimum.minimum) == (Decimal("2.000"), Decimal("10.00"))
    assert minimum.utilization == Decimal("0.2") and minimum.pace == Decimal("0.4")
    assert minimum.projected == Decimal("4.000")
    assert minimum.projected_difference == Decimal("-6.000")  # a shortfall at period end
    [wallet] = found.credits
    assert wallet.balance == Decimal("3.000")
    assert wallet.burn_per_day == Decimal("0.133333")  # 2.00 drawn in 15 days
    assert wallet.days_left == Decimal("22.5")
    assert wallet.runs_out is not None and wallet.runs_out > found.period.end
    assert wallet.before_period_end is False


def test_a_fast_burn_runs_the_credit_out_before_the_period_ends(priced: Priced) -> None:
    priced.apply(contract_document(components=COMMITTED))
    priced.ingest([call(i) for i in range(2000)])
    early = measured(priced)
    [wallet] = early.credits
    assert wallet.balance == Decimal("1.000") and wallet.before_period_end is True
    assert wallet.runs_out is not None and wallet.runs_out < datetime(2026, 11, 30, tzinfo=UTC)
    priced.ingest([call(i) for i in range(2000, 3000)])
    [spent] = measured(priced).credits
    assert (spent.balance, spent.days_left) == (Decimal("0.000"), Decimal("0"))
    [minimum] = measured(priced).commitments
    assert minimum.projected_difference == Decimal("2.000")  # 12.00 projected: an overage


def test_usage_is_current_as_soon_as_it_is_ingested(priced: Priced) -> None:
    priced.apply(contract_document(components=COMMITTED))
    priced.ingest([call(1)])
    assert measured(priced).meters[0].to_date == 1
    priced.ingest([call(2)])
    assert measured(priced).meters[0].to_date == 2


def test_without_a_contract_the_period_is_the_calendar_month(priced: Priced) -> None:
    priced.ingest([call(i, account="globex") for i in range(48)])
    found = measured(priced, "globex")
    assert found.contract is None and found.commitments == () and found.credits == ()
    assert found.period == calendar_month(NOW)
    assert (found.period.start, found.period.end) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    [calls] = found.meters
    assert (calls.to_date, calls.projected, calls.share_of_wallet) == (48, 96, None)
    assert calendar_month(datetime(2026, 12, 31, 23, tzinfo=UTC)).end == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_over_http_for_the_vendor_and_the_accounts_own_key_and_on_the_command_line(
    priced: Priced, http: httpx.Client, server: str
) -> None:
    priced.apply(contract_document(components=COMMITTED))
    priced.ingest([call(i) for i in range(1000)])
    at = {"at": "2026-11-16T00:00:00Z"}
    answer = http.get("/v1/accounts/acme/utilization", params=at)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body == utilization_json(measured(priced))
    # an instant at datetime's edge is a 422 naming `at`, never a 500
    for edge in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        far = http.get("/v1/accounts/acme/utilization", params={"at": edge})
        assert far.status_code == 422 and far.json()["detail"].startswith("at:"), far.text
    assert body["commitments"][0]["pace"] == "0.400000"
    assert body["credits"][0]["runs_out"].startswith("2026-12-08")
    with write(priced.engine) as connection:
        acme = get_account(connection, priced.tenant.id, "acme")
        globex = get_account(connection, priced.tenant.id, "globex")
        keys = {
            account.external_id: create_api_key(
                connection, priced.tenant.id, frozenset({Scope.CUSTOMER}), "portal", account.id
            ).token
            for account in (acme, globex)
        }
    own = httpx.get(
        f"{server}/v1/accounts/acme/utilization",
        params=at,
        headers={"Authorization": f"Bearer {keys['acme']}"},
    )
    other = httpx.get(
        f"{server}/v1/accounts/acme/utilization",
        headers={"Authorization": f"Bearer {keys['globex']}"},
    )
    assert (own.status_code, other.status_code) == (200, 404)
    assert own.json() == body
    bad = http.get("/v1/accounts/acme/utilization", params={"at": "yesterday"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("at:")
    url = priced.engine.url.render_as_string(hide_password=False)
    base = ["--database-url", url, "success", "utilization", "acme", "--tenant", priced.tenant.slug]
    table = CliRunner().invoke(app, [*base, "--at", "2026-11-16T00:00:00Z"])
    assert table.exit_code == 0, table.output
    assert "50.0% elapsed" in table.stdout and "minimum" in table.stdout
    as_json = CliRunner().invoke(app, [*base, "--at", "2026-11-16T00:00:00Z", "--json"])
    assert orjson.loads(as_json.stdout) == body
    unknown = CliRunner().invoke(
        app,
        ["--database-url", url, "success", "utilization", "nobody", "--tenant", priced.tenant.slug],
    )
    assert unknown.exit_code == 2 and "account" in unknown.output
