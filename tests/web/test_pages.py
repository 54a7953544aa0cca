"""Tests of the dashboard: sign-in, the accounts list, an account's page, tenancy.

Data goes in through the real HTTP API; the pages are read over HTTP (httpx) for the protocol
details (redirects, cookie flags, status codes) and in Debian's Chromium for what a person sees.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, event

from valueproof.metering.definitions import Aggregation
from valueproof.metering.usage import UsageRow
from valueproof.periods import parse_rfc3339
from valueproof.store import write
from valueproof.tenancy.keys import Scope, create_api_key
from valueproof.tenancy.tenants import Tenant, create_tenant
from valueproof.web.pages import PAGE_SIZE, Window, daily_series, summarize, templates
from valueproof.web.sessions import SESSION_COOKIE

from .conftest import form_csrf, post_login

AS_OF = "2025-07-01T00:00:00Z"
LIST_FROM = parse_rfc3339("2025-06-01T00:00:00Z")  # AS_OF less 30 days
DETAIL_FROM = parse_rfc3339("2025-04-02T00:00:00Z")  # AS_OF less 90 days

# (id, account, timestamp, package, pages)
EVENTS = [
    ("a1", "acme", "2025-06-02T09:00:00Z", "basic", 2),
    ("a2", "acme", "2025-06-02T15:30:00Z", "basic", 3),
    ("a3", "acme", "2025-06-02T23:59:00Z", "pro", 10),
    ("a4", "acme", "2025-06-20T12:00:00Z", "pro", 1),
    ("a5", "acme", "2025-06-30T23:00:00Z", "pro", 4),  # the window's last hour
    ("a6", "acme", "2025-05-15T08:00:00Z", "pro", 7),  # in the 90 days, not the 30
    ("a7", "acme", "2025-07-01T00:00:00Z", "basic", 100),  # the window's end is exclusive
    ("i1", "initech", "2025-06-10T10:00:00Z", "basic", 5),
]
ACCOUNTS = [
    {
        "external_id": "acme",
        "name": "Acme Staffing",
        "attributes": {"industry": "staffing", "size": "mid", "region": "EU", "product": "checks"},
    },
    {"external_id": "globex", "name": "Globex", "attributes": {"industry": "energy"}},
    {"external_id": "initech", "name": "Initech <Labs>", "attributes": {"size": "small"}},
]


def seed(http: httpx.Client) -> None:
    """One event type, a count meter grouped by package, a sum meter, three accounts, events."""
    properties = {
        "package": {"type": "string", "required": True},
        "pages": {"type": "integer", "required": True},
    }
    answer = http.put("/v1/event-types/check", json={"key": "check", "properties": properties})
    assert answer.status_code == 201, answer.text
    for meter in (
        {
            "key": "checks",
            "name": "Background checks",
            "event_type": "check",
            "aggregation": "count",
            "group_by": ["package"],
            "unit": "checks",
        },
        {
            "key": "pages",
            "name": "Pages scanned",
            "event_type": "check",
            "aggregation": "sum",
            "value_property": "pages",
            "unit": "pages",
        },
    ):
        answer = http.post("/v1/meters", json=meter)
        assert answer.status_code == 201, answer.text
    for account in ACCOUNTS:
        answer = http.post("/v1/accounts", json=account)
        assert answer.status_code == 201, answer.text
    events = [
        {
            "id": event_id,
            "account": account,
            "type": "check",
            "timestamp": timestamp,
            "properties": {"package": package, "pages": pages},
        }
        for event_id, account, timestamp, package, pages in EVENTS
    ]
    answer = http.post("/v1/events", json={"events": events})
    assert answer.status_code == 200, answer.text


def sent(account: str, since: datetime, package: str | None = None) -> tuple[int, int]:
    """(checks, pages) the events above carry for an account in [since, AS_OF)."""
    end = parse_rfc3339(AS_OF)
    chosen = [
        pages
        for _, who, timestamp, kind, pages in EVENTS
        if who == account and since <= parse_rfc3339(timestamp) < end and package in (None, kind)
    ]
    return len(chosen), sum(chosen)


def other_tenant_reader(engine: Engine) -> str:
    """A read-only key of a tenant of its own."""
    with write(engine) as connection:
        other = create_tenant(connection, f"other-{uuid.uuid4().hex[:12]}")
        return create_api_key(connection, other.id, frozenset({Scope.READ})).token


def key_with(engine: Engine, tenant: Tenant, scopes: set[Scope]) -> str:
    with write(engine) as connection:
        return create_api_key(connection, tenant.id, frozenset(scopes)).token


@pytest.fixture
def visitor(server: str) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client that follows no redirects, like a browser before login."""
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def signed_in(visitor: httpx.Client, key: str) -> httpx.Client:
    answer = post_login(visitor, key)
    assert answer.status_code == 303, answer.text
    return visitor


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="account" data-account="([^"]+)"', html)


# --- the pure parts --------------------------------------------------------------------------


def day(text: str) -> datetime:
    return parse_rfc3339(f"{text}T00:00:00Z")


def row(start: str, value: int) -> UsageRow:
    return UsageRow(day(start), day(start), {}, Decimal(value))


@pytest.mark.parametrize(
    ("aggregation", "label", "value"),
    [
        (Aggregation.COUNT, "total", 9),
        (Aggregation.SUM, "total", 9),
        (Aggregation.TIME_WEIGHTED_SUM, "total", 9),
        (Aggregation.MAX, "peak", 5),
        (Aggregation.MIN, "lowest", 1),
        (Aggregation.LATEST, "latest", 3),
        (Aggregation.UNIQUE_COUNT, "busiest day", 5),
    ],
)
def test_summary_follows_the_aggregation(aggregation: Aggregation, label: str, value: int) -> None:
    daily = [Decimal(1), Decimal(5), Decimal(3)]
    assert summarize(aggregation, daily) == (label, Decimal(value))


def test_templates_ship_inside_the_package() -> None:
    folder = resources.files("valueproof.web") / "templates"
    names = sorted(item.name for item in folder.iterdir() if item.name.endswith(".html"))
    assert names == [
        "account.html",
        "accounts.html",
        "alerts.html",
        "base.html",
        "invoice.html",
        "invoices.html",
        "login.html",
        "message.html",
        "webhooks.html",
    ]
    for name in names:
        templates.get_template(name)  # compiles


def test_days_without_usage_are_zero() -> None:
    window = Window(day("2025-06-01"), day("2025-06-04"), [day(f"2025-06-0{n}") for n in (1, 2, 3)])
    series = daily_series([row("2025-06-03", 4), row("2025-06-01", 2)], window)
    assert series == [Decimal(2), Decimal(0), Decimal(4)]


# --- sign-in over HTTP -----------------------------------------------------------------------


def test_the_dashboard_sends_strangers_to_login(visitor: httpx.Client) -> None:
    for path in ("/", "/accounts/acme"):
        answer = visitor.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login"


def test_login_form_asks_for_a_key(visitor: httpx.Client) -> None:
    answer = visitor.get("/login")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'name="key"' in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_a_bad_key_gets_the_form_again_with_the_reason(visitor: httpx.Client) -> None:
    for key in ("vp_0000_nothing", "not a key", "", "x&" * 50):
        answer = post_login(visitor, key)
        assert answer.status_code == 401
        assert "That key was not accepted" in answer.text
        assert 'name="key"' in answer.text
        assert "set-cookie" not in answer.headers


def test_a_key_that_cannot_read_is_refused(
    visitor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    answer = post_login(visitor, key_with(engine, tenant, {Scope.INGEST}))
    assert answer.status_code == 403
    assert "read scope" in answer.text
    assert "set-cookie" not in answer.headers


def test_login_keeps_a_session_not_the_key_in_a_strict_httponly_cookie(
    visitor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    key = key_with(engine, tenant, {Scope.READ})
    answer = post_login(visitor, key)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookies = answer.headers.get_list("set-cookie")
    assert not any(key in cookie for cookie in cookies)
    session = next(cookie for cookie in cookies if cookie.startswith(f"{SESSION_COOKIE}="))
    assert session.startswith(f"{SESSION_COOKIE}=vps_")
    flags = {part.strip().lower() for part in session.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/", f"max-age={12 * 3600}"} <= flags
    assert "secure" not in flags  # plain HTTP on loopback; set over HTTPS
    page = visitor.get("/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert tenant.slug in page.text


def test_an_unknown_cookie_is_dropped_and_sent_to_login(visitor: httpx.Client) -> None:
    visitor.cookies.set(SESSION_COOKIE, "vp_0000_forged")
    answer = visitor.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert answer.headers["set-cookie"].startswith(f'{SESSION_COOKIE}="";')
    assert "max-age=0" in answer.headers["set-cookie"].lower()


def test_logout_clears_the_cookie(visitor: httpx.Client, admin_key: str) -> None:
    signed_in(visitor, admin_key)
    answer = visitor.post("/logout", data={"csrf": form_csrf(visitor.get("/").text)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert "max-age=0" in answer.headers["set-cookie"].lower()
    assert visitor.get("/").status_code == 303


# --- pages over HTTP -------------------------------------------------------------------------


def test_account_query_opens_the_account_page(visitor: httpx.Client, admin_key: str) -> None:
    signed_in(visitor, admin_key)
    answer = visitor.get("/", params={"account": "a:b@c", "as_of": AS_OF})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/accounts/a%3Ab%40c?as_of=2025-07-01T00%3A00%3A00Z"


def test_bad_as_of_and_unknown_account_are_clear_errors(
    visitor: httpx.Client, admin_key: str
) -> None:
    signed_in(visitor, admin_key)
    answer = visitor.get("/", params={"as_of": "yesterday"})
    assert answer.status_code == 422
    assert "as_of" in answer.text
    answer = visitor.get("/accounts/nobody")
    assert answer.status_code == 404
    assert "nobody" in answer.text


def test_accounts_come_fifty_to_a_page(
    visitor: httpx.Client, http: httpx.Client, admin_key: str
) -> None:
    for number in range(PAGE_SIZE + 1):
        created = http.post("/v1/accounts", json={"external_id": f"c{number:03}", "name": "C"})
        assert created.status_code == 201
    signed_in(visitor, admin_key)
    first = visitor.get("/", params={"as_of": AS_OF})
    assert row_ids(first.text) == [f"c{n:03}" for n in range(PAGE_SIZE)]
    link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert link is not None
    second = visitor.get(link.group(1).replace("&amp;", "&"))
    assert row_ids(second.text) == [f"c{PAGE_SIZE:03}"]
    assert 'rel="next"' not in second.text


def test_the_list_asks_once_per_meter_however_many_accounts(
    visitor: httpx.Client, http: httpx.Client, admin_key: str, engine: Engine
) -> None:
    seed(http)
    signed_in(visitor, admin_key)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert visitor.get("/", params={"as_of": AS_OF}).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    reads = [s for s in statements if re.search(r"\bFROM rollups\b", s)]
    assert len(reads) == 2  # the two meters; not one per account


# --- in the browser --------------------------------------------------------------------------


def sign_in(page: Page, key: str) -> int:
    """Submit the login form; the status the form's POST got."""
    page.goto("/login")
    page.get_by_label("API key").fill(key)
    with page.expect_response(
        lambda r: r.url.endswith("/login") and r.request.method == "POST"
    ) as info:
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return info.value.status


@pytest.mark.browser
def test_browser_sign_in_and_out(page: Page, admin_key: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert sign_in(page, "vp_0000_wrong") == 401
    expect(page.get_by_role("alert")).to_contain_text("That key was not accepted")
    assert sign_in(page, admin_key) == 303
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))


@pytest.mark.browser
def test_browser_accounts_show_what_was_sent(
    page: Page, http: httpx.Client, admin_key: str
) -> None:
    seed(http)
    sign_in(page, admin_key)
    page.goto(f"/?as_of={AS_OF}")
    for account in ("acme", "initech"):
        checks, pages = sent(account, LIST_FROM)
        row = page.locator(f'tr[data-account="{account}"]')
        expect(row.locator('[data-meter="checks"] .summary')).to_have_text(str(checks))
        expect(row.locator('[data-meter="pages"] .summary')).to_have_text(str(pages))
        expect(row.locator('[data-meter="checks"] svg[role="img"] rect')).to_have_count(30)
    acme = page.locator('tr[data-account="acme"]')
    expect(acme).to_contain_text("Acme Staffing")
    expect(acme).to_contain_text("industry: staffing")
    expect(acme).to_contain_text("region: EU")
    expect(page.locator('tr[data-account="initech"]')).to_contain_text("Initech <Labs>")
    globex = page.locator('tr[data-account="globex"]')
    expect(globex.locator(".no-usage")).to_have_text("No usage in the last 30 days")
    expect(globex.locator("svg")).to_have_count(0)


@pytest.mark.browser
def test_browser_account_page_breaks_usage_down(
    page: Page, http: httpx.Client, admin_key: str
) -> None:
    seed(http)
    sign_in(page, admin_key)
    page.goto(f"/?as_of={AS_OF}")
    page.get_by_role("link", name="Acme Staffing").click()
    expect(page).to_have_url(re.compile(r"/accounts/acme\?as_of="))
    checks = page.locator('section[data-meter="checks"]')
    expect(checks.locator(".summary")).to_have_text(str(sent("acme", DETAIL_FROM)[0]))
    expect(checks.locator('svg[role="img"] > rect')).to_have_count(90)
    breakdown = checks.locator("table.groups tbody tr")
    expect(breakdown).to_have_count(2)
    for index, package in enumerate(("pro", "basic")):  # largest first
        cells = breakdown.nth(index).locator("td")
        expect(cells.nth(0)).to_have_text(package)
        expect(cells.nth(1)).to_have_text(f"{sent('acme', DETAIL_FROM, package)[0]} checks")
    pages = page.locator('section[data-meter="pages"]')
    expect(pages.locator(".summary")).to_have_text(str(sent("acme", DETAIL_FROM)[1]))
    expect(pages.locator("table.groups")).to_have_count(0)  # the meter has no dimensions
    page.goto(f"/accounts/globex?as_of={AS_OF}")
    expect(page.locator(".no-usage")).to_have_text("No usage in the last 90 days.")


@pytest.mark.browser
def test_browser_another_tenant_sees_none_of_it(
    page: Page, http: httpx.Client, engine: Engine
) -> None:
    seed(http)
    assert sign_in(page, other_tenant_reader(engine)) == 303
    page.goto(f"/?as_of={AS_OF}")
    expect(page.get_by_text("No accounts yet.")).to_be_visible()
    expect(page.locator("tr.account")).to_have_count(0)
    page.goto(f"/accounts/acme?as_of={AS_OF}")
    expect(page.get_by_role("alert")).to_contain_text("no account 'acme'")
