"""`POST /v1/success/backtest`: replay the usage alerts over past days and score them against
labels (the same functions as `valueproof success backtest`). Reads only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from valueproof.api.auth import engine_of, requires
from valueproof.api.bodies import json_object, read_body
from valueproof.config import Settings
from valueproof.demo.labels import book_labels
from valueproof.errors import InvalidInput
from valueproof.store import read
from valueproof.success.backtest import Label, label_documents, replay_window
from valueproof.success.backtest_store import backtest, backtest_json
from valueproof.tenancy.keys import Principal, Scope

__all__ = ["router"]

router = APIRouter(tags=["success"])


@router.post("/v1/success/backtest")
async def post_backtest(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Replay the decline, surge and quiet alerts on every `every`-th day of [`from`, `to`]
    (default: the 90 days ending yesterday) for every account or `accounts`, and score them per
    type against `labels` (a list of {account, type, start, end}, or "demo" for the demo book's
    ground truth): precision, recall, false alerts and the median detection delay."""
    config: Settings = request.app.state.settings
    document = json_object(await read_body(request, config.max_request_bytes), empty_ok=True)
    unknown = sorted(set(document) - {"from", "to", "every", "labels", "accounts"})
    if unknown:
        raise InvalidInput(unknown[0], "unknown field; from, to, every, labels, accounts")
    first, last = (document.get(k) for k in ("from", "to"))
    for field, value in (("from", first), ("to", last)):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(field, "a date (YYYY-MM-DD)")
    start, end = replay_window(first, last, datetime.now(UTC).date())
    every = document.get("every", 1)
    if not isinstance(every, int) or isinstance(every, bool):
        raise InvalidInput("every", "a whole number of days, at least 1")
    only = document.get("accounts")
    if only is not None and (
        not isinstance(only, list) or not all(isinstance(a, str) for a in only)
    ):
        raise InvalidInput("accounts", "a list of account ids")
    wanted = document.get("labels", [])
    given = None if wanted == "demo" else label_documents(wanted)
    engine = engine_of(request)

    def run() -> dict[str, Any]:
        with read(engine) as connection:
            truth: list[Label] = book_labels(connection, who.tenant_id) if given is None else given
            return backtest_json(
                backtest(connection, who.tenant_id, start, end, truth, every, only)
            )

    return await run_in_threadpool(run)
