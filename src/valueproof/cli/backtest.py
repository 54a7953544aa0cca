"""`valueproof success backtest`: replay the usage alerts over past days and score them against
labels, on the database directly (the same functions as `POST /v1/success/backtest`).
`cli/success.py` registers it in the `success` group."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import JsonFlag, print_json, print_table, say
from valueproof.demo.labels import book_labels
from valueproof.errors import InvalidInput
from valueproof.store import read
from valueproof.success.backtest import GRACE_DAYS, Label, parse_labels, replay_window
from valueproof.success.backtest_store import LEFT_OUT, backtest, backtest_json

__all__ = ["run_backtest"]


def run_backtest(
    ctx: typer.Context,
    first: Annotated[
        str | None,
        typer.Option("--from", metavar="DATE", help="First replay day (default: 90 days ago)."),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", metavar="DATE", help="Last replay day (default: yesterday)."),
    ] = None,
    every: Annotated[int, typer.Option(metavar="N", help="Replay every N-th day.")] = 1,
    labels: Annotated[
        str | None,
        typer.Option(
            metavar="FILE|demo",
            help="CSV (account,type,start[,end]) or JSON lines of true changes, or `demo` for "
            "the demo book's ground truth.",
        ),
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(metavar="ID", help="Only this account (repeatable; default: all)."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Replay the decline, surge and quiet alerts on each past day as the refresh would have
    raised them, and score them per type against labels.

    An episode is an alert held on consecutive replay days; it is true when it overlaps a label
    of its account and type (up to 7 days after the label's end). Precision is true episodes
    over episodes, recall detected labels over labels starting in the replay, delay the days
    from a label's start to its first alert. Writes nothing. commitment_at_risk and
    credit_runout are not replayed: they need each day's contract rating.
    """
    start, end = replay_window(first, last, datetime.now(UTC).date())
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        truth = _labels(labels, lambda: book_labels(connection, owner.id))
        found = backtest(connection, owner.id, start, end, truth, every, account or None)
    document = backtest_json(found)
    if as_json:
        print_json(document)
        return
    say(
        f"{document['replay_days']} replay days from {document['from']} to {document['to']} "
        f"(every {every}), {document['accounts']} accounts, meters "
        f"{', '.join(found.meters) or '(none with usage)'}; grace {GRACE_DAYS} days"
    )
    columns = [
        "type",
        "episodes",
        "labels",
        "precision",
        "recall",
        "false_alerts",
        "false_per_100_account_months",
        "median_delay_days",
    ]
    print_table(
        columns,
        [[_cell(row[c]) for c in columns] for row in document["types"]],
        numeric=set(columns) - {"type"},
    )
    say("not replayed: " + "; ".join(f"{k} ({why})" for k, why in LEFT_OUT.items()))


def _labels(option: str | None, demo: Callable[[], list[Label]]) -> list[Label]:
    if option is None:
        return []
    if option == "demo":
        return demo()
    path = Path(option)
    if not path.is_file():
        raise InvalidInput("--labels", f"{option!r} is neither `demo` nor a readable file")
    return parse_labels(path.read_text(encoding="utf-8"))


def _cell(value: object) -> object:
    return "-" if value is None else value
