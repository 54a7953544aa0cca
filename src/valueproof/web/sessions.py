"""The dashboard's sign-in in the browser: the session cookie, CSRF tokens and the Origin check.

The session cookie holds a session token (`tenancy.session_store`), never an API key, and only
the pages read it: the API takes bearer keys alone. Every unsafe request to a page must come from
this site (its `Origin`, else its `Referer`, else `Sec-Fetch-Site`) and carry the form's CSRF
token: a session's is derived from its token, the sign-in form's is a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response
from sqlalchemy import Engine

from valueproof.config import Settings

SESSION_COOKIE = "valueproof_session"
LOGIN_COOKIE = "valueproof_login"
CSRF_FIELD = "csrf"
_LOGIN_FORM_SECONDS = 3600


def engine_of(request: Request) -> Engine:
    """The engine the app was created with."""
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> Settings:
    """The settings the app was created with."""
    config: Settings = request.app.state.settings
    return config


def cross_site(request: Request) -> str | None:
    """Why an unsafe request is not from this site's own pages, or None if nothing says so.

    A browser names where a POST comes from in `Origin` (and in `Referer` unless told not to);
    a request with neither is no browser's cross-site request, and still needs its CSRF token.
    """
    own = f"{request.url.scheme}://{request.url.netloc}".lower()
    origin = request.headers.get("origin")
    if origin is not None:
        if origin.lower() != own:
            return f"cross-origin request refused: Origin {origin} is not {own}"
        return None
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        came_from = f"{parts.scheme}://{parts.netloc}"
        if came_from.lower() != own:
            return f"cross-origin request refused: Referer {came_from} is not {own}"
        return None
    fetched = request.headers.get("sec-fetch-site")
    if fetched not in (None, "same-origin", "none"):
        return f"cross-origin request refused: Sec-Fetch-Site is {fetched}"
    return None


def session_csrf(session_token: str) -> str:
    """The CSRF token of a session's forms: only who holds the session cookie can compute it."""
    return hmac.new(session_token.encode(), b"valueproof csrf", hashlib.sha256).hexdigest()


def session_csrf_error(session_token: str, given: str) -> str | None:
    """Why a signed-in form's CSRF token does not match its session, or None if it does."""
    if not given:
        return f"the form carries no {CSRF_FIELD} token; reload the page and try again"
    if not hmac.compare_digest(session_csrf(session_token), given):
        return f"the form's {CSRF_FIELD} token is not this session's; reload the page"
    return None


def login_csrf(request: Request) -> str:
    """The sign-in form's CSRF token: the one its cookie already holds, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)


def login_csrf_error(request: Request, given: str) -> str | None:
    """Why a sign-in's CSRF token does not match the form's cookie, or None if it does."""
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not given or not hmac.compare_digest(expected, given):
        return "the sign-in form did not come from this site, or has expired; load /login again"
    return None


def keep_login_csrf(response: Response, request: Request, token: str) -> None:
    """Set the sign-in form's double-submit cookie."""
    _set(response, request, LOGIN_COOKIE, token, _LOGIN_FORM_SECONDS)


def keep_session(response: Response, request: Request, token: str, seconds: int) -> None:
    """Set the session cookie (and drop the sign-in form's)."""
    _set(response, request, SESSION_COOKIE, token, seconds)
    _set(response, request, LOGIN_COOKIE, "", 0)


def drop_session(response: Response, request: Request) -> None:
    """Clear the session cookie."""
    _set(response, request, SESSION_COOKIE, "", 0)


def _set(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    # Scripts never read it, and no request another site starts carries it; over HTTPS only
    # when served over HTTPS. Max-Age 0 clears it.
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
