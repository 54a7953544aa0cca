"""The dashboard's session against cross-site use: the cookie holds a session, not a key, and
opens no API route; every unsafe page request must come from this site and carry its form's
CSRF token; sign-out and revoking the key end the session. Real HTTP on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from playwright.sync_api import Page, Response, expect
from sqlalchemy import Engine, select

from valueproof.store import read, write
from valueproof.tenancy.keys import Scope, create_api_key, revoke_api_key
from valueproof.tenancy.tables import web_sessions
from valueproof.tenancy.tenants import Tenant
from valueproof.web.pages import router
from valueproof.web.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    session_csrf,
    session_csrf_error,
)

from .conftest import form_csrf, post_login

EVIL = "http://evil.example"
UNSAFE = sorted(
    (method, route.path)
    for route in router.routes
    for method in getattr(route, "methods", set())
    if method not in {"GET", "HEAD", "OPTIONS"}
)


@pytest.fixture
def visitor(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def session_of(client: httpx.Client) -> str:
    token = client.cookies.get(SESSION_COOKIE)
    assert token, "not signed in"
    return token


def with_session(server: str, token: str) -> httpx.Client:
    """A client of its own holding only the session cookie `token`."""
    return httpx.Client(base_url=server, timeout=30, cookies={SESSION_COOKIE: token})


def sessions_of(engine: Engine, tenant: Tenant) -> list[tuple[str, int | None]]:
    with read(engine) as connection:
        rows = connection.execute(
            select(web_sessions.c.token_sha256, web_sessions.c.revoked_us).where(
                web_sessions.c.tenant_id == tenant.id
            )
        ).all()
    return [(row.token_sha256, row.revoked_us) for row in rows]


# --- where a request comes from ---------------------------------------------------------------


def test_the_pages_change_state_only_by_post_to_the_forms() -> None:
    assert UNSAFE == [
        ("POST", "/invoices/{key:path}/credit"),
        ("POST", "/invoices/{key:path}/finalize"),
        ("POST", "/invoices/{key:path}/void"),
        ("POST", "/login"),
        ("POST", "/logout"),
    ]


@pytest.mark.parametrize(("method", "path"), UNSAFE)
@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("Origin", EVIL, f"Origin {EVIL} is not http://127.0.0.1:"),
        ("Origin", "null", "Origin null is not http://127.0.0.1:"),
        ("Referer", f"{EVIL}/form", f"Referer {EVIL} is not http://127.0.0.1:"),
        ("Sec-Fetch-Site", "cross-site", "Sec-Fetch-Site is cross-site"),
    ],
)
def test_a_cross_site_request_to_a_page_is_refused_with_the_reason(
    visitor: httpx.Client,
    admin_key: str,
    method: str,
    path: str,
    header: str,
    value: str,
    reason: str,
) -> None:
    post_login(visitor, admin_key)
    token = session_of(visitor)
    data = {"key": admin_key, "csrf": form_csrf(visitor.get("/").text)}
    answer = visitor.request(method, path, data=data, headers={header: value})
    assert answer.status_code == 403
    assert "cross-origin request refused" in answer.text
    assert reason in answer.text
    assert "set-cookie" not in answer.headers
    assert session_of(visitor) == token
    assert visitor.get("/").status_code == 200  # the session lives on


def test_a_same_origin_sign_in_is_accepted(visitor: httpx.Client, admin_key: str) -> None:
    own = str(visitor.base_url).rstrip("/")
    assert (
        post_login(visitor, admin_key, Origin=own, **{"Sec-Fetch-Site": "same-origin"}).status_code
        == 303
    )
    assert post_login(visitor, admin_key, Referer=f"{own}/login").status_code == 303


def test_a_cross_site_sign_in_with_the_attackers_key_sets_no_cookie(
    visitor: httpx.Client, engine: Engine, tenant: Tenant
) -> None:
    with write(engine) as connection:
        attackers = create_api_key(connection, tenant.id, frozenset({Scope.READ})).token
    answer = post_login(visitor, attackers, Origin=EVIL)
    assert answer.status_code == 403
    assert f"Origin {EVIL}" in answer.text
    assert SESSION_COOKIE not in visitor.cookies
    assert sessions_of(engine, tenant) == []


# --- CSRF tokens ------------------------------------------------------------------------------


@given(st.text(min_size=1), st.text(min_size=1))
def test_a_forms_csrf_token_matches_its_own_session_only(mine: str, theirs: str) -> None:
    assert session_csrf_error(mine, session_csrf(mine)) is None
    assert session_csrf_error(mine, "") is not None
    if mine != theirs:
        assert session_csrf_error(mine, session_csrf(theirs)) is not None


def test_a_sign_in_without_the_forms_token_is_refused(
    visitor: httpx.Client, admin_key: str, engine: Engine, tenant: Tenant
) -> None:
    # A forged form from elsewhere: no token, or one that is not the form cookie's.
    answer = visitor.post("/login", data={"key": admin_key})
    assert answer.status_code == 403
    assert "sign-in form did not come from this site" in answer.text
    form_csrf(visitor.get("/login").text)  # the form cookie is set now
    for forged in ("", "x" * 43):
        answer = visitor.post("/login", data={"key": admin_key, "csrf": forged})
        assert answer.status_code == 403
        assert "sign-in form did not come from this site" in answer.text
    assert SESSION_COOKIE not in visitor.cookies
    assert sessions_of(engine, tenant) == []


def test_the_sign_in_forms_cookie_is_strict_and_httponly(visitor: httpx.Client) -> None:
    answer = visitor.get("/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{LOGIN_COOKIE}={form_csrf(answer.text)};")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= flags


def test_a_sign_out_without_the_sessions_token_is_refused(
    visitor: httpx.Client, admin_key: str
) -> None:
    post_login(visitor, admin_key)
    for forged in ({}, {"csrf": "0" * 64}, {"csrf": form_csrf(visitor.get("/login").text)}):
        answer = visitor.post("/logout", data=forged)
        assert answer.status_code == 403
        assert "csrf" in answer.text
    assert visitor.get("/").status_code == 200


def test_over_https_the_cookies_are_secure(server: str, admin_key: str) -> None:
    # uvicorn believes X-Forwarded-Proto from loopback, as from a TLS-terminating proxy there.
    https = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=server, timeout=30, headers=https) as client:
        form = client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()
        token = form_csrf(form.text)
        origin = str(client.base_url).rstrip("/").replace("http://", "https://")
        answer = client.post(
            "/login",
            data={"key": admin_key, "csrf": token},
            headers={"Cookie": f"{LOGIN_COOKIE}={token}", "Origin": origin},
        )
    assert answer.status_code == 303
    session = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
    )
    assert "secure" in {part.strip().lower() for part in session.split(";")}


# --- the cookie is not an API credential ------------------------------------------------------


def test_the_session_cookie_opens_no_api_route(
    visitor: httpx.Client, admin_key: str, http: httpx.Client
) -> None:
    post_login(visitor, admin_key)
    answers = [
        visitor.get("/v1/accounts"),
        visitor.post("/v1/events", content=b'{"events": []}', headers={"Origin": EVIL}),
        visitor.post("/v1/accounts", json={"external_id": "forged", "name": "F"}),
    ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert "cookies do not authenticate the API" in answer.json()["detail"]
    assert http.get("/v1/accounts/forged").status_code == 404  # nothing was written


def test_a_cookie_holding_an_api_key_opens_nothing(
    server: str, admin_key: str, http: httpx.Client
) -> None:
    # What the cookie used to hold: the raw key, under either name.
    for name in (SESSION_COOKIE, "valueproof_key"):
        with httpx.Client(base_url=server, timeout=30, cookies={name: admin_key}) as client:
            assert (
                client.post("/v1/accounts", json={"external_id": "x", "name": "X"}).status_code
                == 401
            )
            assert client.get("/").status_code == 303  # to the sign-in form
    assert http.get("/v1/accounts/x").status_code == 404


# --- ending a session -------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server(
    visitor: httpx.Client, server: str, admin_key: str, engine: Engine, tenant: Tenant
) -> None:
    post_login(visitor, admin_key)
    token = session_of(visitor)
    answer = visitor.post("/logout", data={"csrf": form_csrf(visitor.get("/").text)})
    assert answer.status_code == 303
    [(_, revoked)] = sessions_of(engine, tenant)
    assert revoked is not None
    with with_session(server, token) as replay:  # the cookie, kept by someone, opens nothing
        answer = replay.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"


def test_revoking_the_key_ends_its_sessions(
    server: str, engine: Engine, tenant: Tenant, admin_key: str
) -> None:
    with write(engine) as connection:
        issued = create_api_key(connection, tenant.id, frozenset({Scope.READ}))
    with (
        httpx.Client(base_url=server, timeout=30) as reader,
        httpx.Client(base_url=server, timeout=30) as admin,
    ):
        assert post_login(reader, issued.token).status_code == 303
        assert post_login(admin, admin_key).status_code == 303
        assert reader.get("/").status_code == 200
        with write(engine) as connection:
            revoke_api_key(connection, tenant.id, issued.key_id)
        answer = reader.get("/")
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        assert admin.get("/").status_code == 200  # another key's session is untouched


def test_signing_in_again_ends_the_browsers_previous_session(
    visitor: httpx.Client, server: str, admin_key: str
) -> None:
    post_login(visitor, admin_key)
    first = session_of(visitor)
    post_login(visitor, admin_key)
    assert session_of(visitor) != first
    with with_session(server, first) as replay:
        assert replay.get("/").status_code == 303
    assert visitor.get("/").status_code == 200


# --- in the browser ---------------------------------------------------------------------------


def evil_form(page: Page, action: str, fields: dict[str, str]) -> Response:
    """Open a page of another site holding a form that posts `fields` to `action`, submit it,
    and return the response the browser got."""
    inputs = "".join(f'<input type="hidden" name="{n}" value="{v}">' for n, v in fields.items())
    html = f'<form method="post" action="{action}">{inputs}<button>Win a prize</button></form>'
    page.route(f"{EVIL}/**", lambda route: route.fulfill(body=html, content_type="text/html"))
    page.goto(f"{EVIL}/prize")
    with page.expect_response(lambda r: r.url == action) as info:
        page.get_by_role("button", name="Win a prize").click()
    return info.value


@pytest.mark.browser
def test_browser_another_sites_form_cannot_sign_out(
    page: Page, server: str, admin_key: str
) -> None:
    page.goto("/login")
    page.get_by_label("API key").fill(admin_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()
    answer = evil_form(page, f"{server}/logout", {"csrf": "guessed"})
    assert answer.status == 403
    expect(page.get_by_role("alert")).to_contain_text(f"Origin {EVIL}")
    page.goto(f"{server}/")
    expect(page.get_by_role("heading", name="Accounts")).to_be_visible()  # still signed in


@pytest.mark.browser
def test_browser_another_sites_form_cannot_sign_in_with_its_key(
    page: Page, server: str, engine: Engine, tenant: Tenant
) -> None:
    with write(engine) as connection:
        attackers = create_api_key(connection, tenant.id, frozenset({Scope.READ})).token
    answer = evil_form(page, f"{server}/login", {"key": attackers, "csrf": ""})
    assert answer.status == 403
    assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    page.goto(f"{server}/")
    expect(page).to_have_url(re.compile(r"/login$"))
