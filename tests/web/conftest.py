"""The dashboard tests' browser: Debian's Chromium through Playwright, one per module, and a
fresh context (no cookies) per test on the test server; signing in over plain HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def form_csrf(html: str) -> str:
    """The CSRF token a page's form carries."""
    found = re.search(r'<input type="hidden" name="csrf" value="([^"]+)">', html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def post_login(client: httpx.Client, key: str, **headers: str) -> httpx.Response:
    """Load the sign-in form (keeping its cookie), then submit `key` with its CSRF token."""
    token = form_csrf(client.get("/login").text)
    return client.post("/login", data={"key": key, "csrf": token}, headers=headers)
