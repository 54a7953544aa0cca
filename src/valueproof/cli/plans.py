"""`valueproof plan`: an account's success plan, each change of an action a ledger leaf; the same
store functions as `/v1/accounts/{id}/success-plan`, on the database directly, as the vendor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from valueproof.cli.context import (
    TenantOption,
    engine_of,
    file_argument,
    invocation,
    keyring_of,
    read_text,
    tenant_of,
)
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.periods import parse_instant_field, to_micros
from valueproof.store import read
from valueproof.success import plans, writes
from valueproof.success.plans import action_json
from valueproof.tenancy.accounts import get_account
from valueproof.tenancy.clock import now_us

app = command_group(
    "Success plans: the actions vendor and customer agreed (owner, due date, status, evidence), "
    "each change a ledger leaf, and how the customer kept to its own."
)

AccountArgument = Annotated[
    str, typer.Argument(metavar="ACCOUNT", help="The account's external id.")
]


@app.command("show")
def show(
    ctx: typer.Context,
    account: AccountArgument,
    at: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="RFC 3339: the plan as it stood then (default: now)."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The account's actions (each at its latest version by then) and the customer's
    adherence: of its actions due by then, how many were done on time, late, or missed."""
    as_of = now_us() if at is None else to_micros(parse_instant_field("at", at))
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = get_account(connection, owner.id, account)
        actions = plans.plan(connection, owner.id, found.id, as_of)
        kept = plans.adherence_of(found.external_id, actions, as_of)
    document = plans.plan_json(actions, kept)
    if as_json:
        print_json(document)
        return
    _print_actions(document["actions"], f"success plan of {account} at {document['as_of']}")
    counted = document["adherence"]
    say(
        f"customer actions due: {counted['due']}: done on time {counted['done_on_time']}, "
        f"done late {counted['done_late']}, missed {counted['missed']}, "
        f"dropped {counted['dropped']}"
    )


@app.command("set")
def set_action(
    ctx: typer.Context,
    account: AccountArgument,
    path: Annotated[Path, file_argument("An action document, YAML or JSON.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create or change an action of the account's plan, as the vendor; a changed document is
    a new version (and a new leaf), the same one again changes nothing.

    Exit 2 for an invalid document (the field is named), 3 for an unknown account."""
    document = plans.read_action(read_text(path, "path"))
    here = invocation(ctx)
    policy = CheckpointPolicy.from_settings(keyring_of(ctx), here.config)
    owner = tenant_of(ctx, tenant)
    status, stored = writes.set_action(here.engine, owner.id, account, document, "vendor", policy)
    if as_json:
        print_json({"change": status, **action_json(stored)})
        return
    say(
        f"{account}/{stored.action.key}: {status}, version {stored.version}, "
        f"leaf {stored.leaf_index}"
    )


@app.command("history")
def history(
    ctx: typer.Context,
    account: AccountArgument,
    action: Annotated[str, typer.Argument(metavar="ACTION", help="The action's key.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Every version of one action, oldest first: who changed it, when, and its leaf."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = get_account(connection, owner.id, account)
        versions = [action_json(v) for v in plans.history(connection, owner.id, found.id, action)]
    if as_json:
        print_json({"account": account, "action": action, "versions": versions})
        return
    print_table(
        [
            "version",
            "changed_at",
            "changed_by",
            "status",
            "due",
            "owner",
            "done_at",
            "evidence",
            "leaf_index",
        ],
        [
            (
                v["version"],
                v["changed_at"],
                v["changed_by"],
                v["status"],
                v["due"],
                v["owner"],
                v["done_at"],
                v["evidence"],
                v["leaf_index"],
            )
            for v in versions
        ],
        title=f"{account}/{action}",
        numeric={"version", "leaf_index"},
    )


def _print_actions(actions: list[dict[str, Any]], title: str) -> None:
    print_table(
        ["action", "title", "owner", "due", "status", "missed", "done_at", "version", "leaf_index"],
        [
            (
                a["key"],
                a["title"],
                a["owner"],
                a["due"],
                a["status"],
                a["missed"],
                a["done_at"],
                a["version"],
                a["leaf_index"],
            )
            for a in actions
        ],
        title=title,
        numeric={"version", "leaf_index"},
    )
