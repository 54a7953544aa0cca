"""Bearer-key authentication: every request resolves to a Principal of exactly one tenant.

`requires(scope)` admits vendor keys only. `requires_account(scope)` also admits the customer key
of the path's account (`{external_id}`); `requires_or_customer(scope)` admits any customer key of
the tenant and leaves the route to check that what it returns is that customer's own.

Bearer keys only: a cookie authenticates nothing here (the dashboard's session cookie opens the
dashboard's pages alone), so no other site can make a browser call the API with its credentials.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from sqlalchemy import Engine

from valueproof.errors import Unauthenticated
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope, authenticate


def engine_of(request: Request) -> Engine:
    """The engine the app was created with."""
    engine: Engine = request.app.state.engine
    return engine


def bearer_token(request: Request) -> str:
    """The API key from `Authorization: Bearer`; cookies are not credentials here."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    if request.cookies:
        raise Unauthenticated(
            "cookies do not authenticate the API; send an API key as `Authorization: Bearer <key>`"
        )
    raise Unauthenticated("send an API key as `Authorization: Bearer <key>`")


def principal(request: Request) -> Principal:
    """Authenticate the request."""
    with read(engine_of(request)) as connection:
        return authenticate(connection, bearer_token(request))


def requires(scope: Scope) -> Callable[[Principal], Principal]:
    """A dependency that authenticates and demands `scope`."""

    def check(who: Principal = Depends(principal)) -> Principal:
        who.require(scope)
        return who

    return check


def requires_account(scope: Scope) -> Callable[..., Principal]:
    """A vendor key holding `scope`, or the customer key of the path's account `external_id`.

    Another account's customer key gets 404, as for an account that does not exist.
    """

    def check(external_id: str, who: Principal = Depends(principal)) -> Principal:
        who.require_account(external_id, scope)
        return who

    return check


def requires_or_customer(scope: Scope) -> Callable[[Principal], Principal]:
    """A vendor key holding `scope`, or any customer key: the route must then call
    `who.require_account` with the account of what it is about to return."""

    def check(who: Principal = Depends(principal)) -> Principal:
        if not who.is_customer:
            who.require(scope)
        return who

    return check
