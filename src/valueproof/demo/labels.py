"""The demo book's ground truth as backtest labels: the seed records its `BookSpec` in the
tenant's settings, and the accounts (with what the generator did to each) follow from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from valueproof.demo.accounts import DemoAccount
from valueproof.demo.book import BookSpec, demo_accounts
from valueproof.errors import InvalidInput, NotFound
from valueproof.success.backtest import Label
from valueproof.success.settings import load_setting, store_setting

__all__ = ["BOOK_SETTING", "book_labels", "demo_labels", "record_book", "recorded_book"]

BOOK_SETTING = "demo_book"  # the success_settings key the seed records its BookSpec under


def _parse_book(data: Any) -> BookSpec | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidInput(BOOK_SETTING, "an object with end, seed, accounts, days and scale")
    try:
        return BookSpec(
            end=datetime.fromisoformat(data["end"]),
            seed=int(data["seed"]),
            accounts=int(data["accounts"]),
            days=int(data["days"]),
            scale=float(data["scale"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput(BOOK_SETTING, f"unreadable: {error}") from None


def record_book(connection: Connection, tenant_id: int, spec: BookSpec, now_us: int) -> None:
    """Record which book was seeded into the tenant, so its ground truth can be derived again."""
    document = {
        "end": spec.end.isoformat(),
        "seed": spec.seed,
        "accounts": spec.accounts,
        "days": spec.days,
        "scale": spec.scale,
    }
    store_setting(connection, tenant_id, BOOK_SETTING, document, _parse_book, now_us)


def recorded_book(connection: Connection, tenant_id: int) -> BookSpec:
    """The book the demo seed recorded; NotFound for a tenant it did not seed (or seeded before
    it recorded its book)."""
    spec = load_setting(connection, tenant_id, BOOK_SETTING, _parse_book)
    if spec is None:
        raise NotFound("no demo book recorded for this tenant: seed it with `valueproof demo seed`")
    return spec


def demo_labels(book: Sequence[DemoAccount]) -> list[Label]:
    """A `decline` and a `quiet` label from `quiet_since` for each account of the quiet
    archetype: it stopped, or kept 2-8% of its usage, which leaves days or weeks without any
    (both are an account going quiet, and both are a decline)."""
    found = []
    for account in book:
        since = account.profile.quiet_since
        if since is None:
            continue
        start = since.date()
        found.append(Label(account.external_id, "decline", start))
        found.append(Label(account.external_id, "quiet", start))
    return found


def book_labels(connection: Connection, tenant_id: int) -> list[Label]:
    """The labels of the book the demo seed recorded for the tenant (the replay scores only
    those of the accounts it replays)."""
    return demo_labels(demo_accounts(recorded_book(connection, tenant_id)))
