"""Tests of what the dashboard shows of Customer Success, both backends: after ingest and a real
refresh, the open alert queue on the first page (critical first) and each account's recent days
against its seasonal baseline, on the first page and on the account's own, in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, event

from valueproof.metering.definitions import EventType, Meter
from valueproof.metering.ingest import IngestOptions, ingest_batch
from valueproof.metering.registry import apply_event_type, apply_meter
from valueproof.store import tenant_lock, write
from valueproof.success.refresh import refresh
from valueproof.tenancy.accounts import AccountCreate, create_account
from valueproof.tenancy.tenants import Tenant

from .conftest import post_login

# Today: the pages show the queue as of now and the refresh runs as of now.
NOW = datetime.now(UTC)
LAST = NOW.date() - timedelta(days=1)  # the last whole day
HISTORY = 90  # days: the baseline needs at least 70 days of history, in whole weeks
NEW = 20  # umbrella's days of history
ACCOUNTS = {
    "acme": "Acme Staffing",  # a steady weekly pattern: a profile, no alert
    "globex": "Globex",  # the same, then the last five days at a fifth: a decline
    "initech": "Initech",  # stopped ten days ago: quiet
    "umbrella": "Umbrella",  # new this month: too little history for a baseline, and it says so
}


def weekly(day: date) -> int:
    """30 calls on weekdays, 6 on weekends: a strong weekly cycle."""
    return 6 if day.weekday() >= 5 else 30


def calls(account: str, days: int, level: float = 1.0, stop: int = 0) -> list[dict[str, Any]]:
    """`days` days of calls up to LAST; the last `stop` days at `level` times the usual."""
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
                "properties": {},
            }
            for n in range(count)
        )
    return found


def book(engine: Engine, tenant: Tenant) -> None:
    """The four accounts' history, then the refresh that profiles them and raises alerts."""
    with write(engine) as connection:
        apply_event_type(connection, tenant.id, EventType(key="api.call", properties={}))
        apply_meter(
            connection,
            tenant.id,
            Meter(key="calls", name="API calls", event_type="api.call", aggregation="count"),
        )
        for external_id, name in ACCOUNTS.items():
            create_account(connection, tenant.id, AccountCreate(external_id=external_id, name=name))
    stopped = (LAST - timedelta(days=9)).isoformat()
    history = [
        *calls("acme", HISTORY),
        *calls("globex", HISTORY, level=0.2, stop=5),
        *(e for e in calls("initech", HISTORY) if e["timestamp"] < stopped),
        *calls("umbrella", NEW),
    ]
    for start in range(0, len(history), 2_000):
        results = ingest_batch(engine, tenant.id, history[start : start + 2_000], IngestOptions())
        assert all(result.status == "accepted" for result in results)
    with write(engine) as connection:
        tenant_lock(connection, tenant.id)
        refresh(connection, tenant.id, NOW)


def sign_in(page: Page, key: str) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))


@pytest.fixture
def booked(engine: Engine, tenant: Tenant) -> None:
    book(engine, tenant)


# --- over HTTP -------------------------------------------------------------------------------


def test_the_first_page_reads_every_baseline_in_one_query(
    booked: None, server: str, admin_key: str, engine: Engine
) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    with httpx.Client(base_url=server, timeout=30) as visitor:
        assert post_login(visitor, admin_key).status_code == 303
        event.listen(engine, "before_cursor_execute", record)
        try:
            answer = visitor.get("/")
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200
    assert answer.text.count('class="chart band-chart"') == 3  # acme, globex, initech
    assert len([s for s in statements if re.search(r"\bFROM success_profiles\b", s)]) == 1


def test_as_of_shows_the_alerts_that_were_live_then(
    booked: None, server: str, admin_key: str, engine: Engine
) -> None:
    with httpx.Client(base_url=server, timeout=30) as visitor:
        assert post_login(visitor, admin_key).status_code == 303
        now = visitor.get("/")
        before = visitor.get("/", params={"as_of": (NOW - timedelta(days=30)).isoformat()})
        later = visitor.get("/", params={"as_of": (NOW + timedelta(minutes=1)).isoformat()})
    assert 'data-alert-account="globex"' in now.text
    # the refresh ran as of now: a month ago none of these alerts was open yet
    assert 'data-alert-account="globex"' not in before.text and "No open alerts." in before.text
    assert 'data-alert-account="globex"' in later.text
    with httpx.Client(base_url=server, timeout=30) as visitor:
        assert post_login(visitor, admin_key).status_code == 303
        edge = visitor.get("/", params={"as_of": "0001-01-01T00:00:00Z"})
    assert edge.status_code == 422 and "Invalid date" in edge.text  # not a 500


# --- in the browser --------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_first_page_shows_the_queue_critical_first(
    booked: None, page: Page, admin_key: str
) -> None:
    sign_in(page, admin_key)
    queue = page.locator("table.alerts tr.alert")
    expect(queue.first).to_be_visible()
    raised = [
        (row.get_attribute("data-alert-account"), row.get_attribute("data-alert-type"))
        for row in queue.all()
    ]
    assert ("initech", "quiet") in raised
    assert ("globex", "decline") in raised
    assert all(account != "acme" for account, _ in raised)  # its weekends are its norm
    severities = [row.get_attribute("data-severity") for row in queue.all()]
    assert severities[0] == "critical"
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert severities == sorted(severities, key=lambda severity: rank[str(severity)])
    assert all(row.get_attribute("data-alert-id") for row in queue.all())
    quiet = page.locator('tr.alert[data-alert-account="initech"][data-alert-type="quiet"]')
    expect(quiet).to_contain_text("critical")
    expect(quiet).to_contain_text("no usage for 11 days")  # last used ten whole days ago
    expect(quiet.locator("td.num")).to_have_text("1")  # seen once: one refresh so far
    decline = page.locator('tr.alert[data-alert-account="globex"][data-alert-type="decline"]')
    expect(decline).to_contain_text("below the seasonal range")
    decline.get_by_role("link", name="globex").click()
    expect(page).to_have_url(re.compile(r"/accounts/globex$"))
    expect(page.get_by_role("heading", name="Globex")).to_be_visible()


@pytest.mark.browser
def test_browser_first_page_draws_the_seasonal_band_where_there_is_one(
    booked: None, page: Page, admin_key: str
) -> None:
    sign_in(page, admin_key)
    globex = page.locator('tr[data-account="globex"] [data-meter="calls"]')
    band = globex.locator("svg.band-chart[role='img']")
    expect(band).to_have_count(1)
    expect(band.locator("circle.actual")).to_have_count(14)
    expect(band.locator("polygon.band")).to_have_count(1)
    # The last five days fell to a fifth, below the range.
    assert band.locator("circle.outside.below").count() >= 3
    expect(globex.locator("figcaption")).to_contain_text("weekly")
    expect(globex.locator("figcaption")).to_contain_text("last 14 days")
    plain = globex.locator("svg.chart:not(.band-chart)")
    expect(plain).to_have_count(1)  # the 30 days' bars stay beside the band
    assert plain.locator("rect").count() >= 30  # and the current day's first hours
    acme = page.locator('tr[data-account="acme"] [data-meter="calls"]')
    expect(acme.locator("svg.band-chart circle.actual")).to_have_count(14)
    umbrella = page.locator('tr[data-account="umbrella"] [data-meter="calls"]')
    expect(umbrella.locator("svg.band-chart")).to_have_count(0)  # no baseline yet
    expect(umbrella.locator("svg.chart")).to_have_count(1)
    expect(umbrella.locator("figcaption")).to_contain_text("no seasonal baseline yet")
    new_days = sum(weekly(LAST - timedelta(days=back)) for back in range(NEW))
    expect(umbrella.locator(".summary")).to_have_text(str(new_days))


@pytest.mark.browser
def test_browser_account_page_shows_its_baseline_periods_and_alerts(
    booked: None, page: Page, admin_key: str
) -> None:
    sign_in(page, admin_key)
    page.goto("/accounts/globex")
    alerts = page.locator("table.alerts tr.alert")
    expect(alerts.first).to_be_visible()
    assert {row.get_attribute("data-alert-account") for row in alerts.all()} == {"globex"}
    expect(page.locator('tr.alert[data-alert-type="decline"]')).to_have_count(1)
    calls_card = page.locator('section[data-meter="calls"]')
    band = calls_card.locator("svg.band-chart[role='img']")
    expect(band.locator("circle.actual")).to_have_count(14)
    expect(band.locator("circle.outside").first).to_be_visible()
    tooltip = band.locator("circle.actual").last.locator("title")
    expect(tooltip).to_have_text(re.compile(rf"^{LAST.isoformat()}: \d+ \(expected .*below"))
    weekly_row = calls_card.locator('table.periods tr[data-period="weekly"]')
    expect(weekly_row.locator("td").nth(1)).to_have_text("7")
    expect(weekly_row.locator("td").nth(3)).to_have_text("yes")
    page.goto("/accounts/acme")
    expect(page.locator(".no-alerts")).to_have_text("No open alerts.")
    expect(page.locator('section[data-meter="calls"] svg.band-chart')).to_have_count(1)
    page.goto("/accounts/umbrella")
    expect(page.locator('section[data-meter="calls"] svg.band-chart')).to_have_count(0)
    expect(page.locator("table.periods")).to_have_count(0)
    expect(page.locator(".baseline-reason")).to_contain_text("a seasonal baseline needs 70")


@pytest.mark.browser
def test_browser_a_book_without_alerts_says_so(
    page: Page, http: httpx.Client, admin_key: str
) -> None:
    created = http.post("/v1/accounts", json={"external_id": "hooli", "name": "Hooli"})
    assert created.status_code == 201, created.text
    sign_in(page, admin_key)
    expect(page.get_by_role("heading", name="Open alerts")).to_be_visible()
    expect(page.locator(".no-alerts")).to_have_text("No open alerts.")
    expect(page.locator("table.alerts")).to_have_count(0)
    expect(page.locator('tr[data-account="hooli"] svg')).to_have_count(0)
