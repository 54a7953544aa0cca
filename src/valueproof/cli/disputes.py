"""`valueproof dispute`: the vendor's side of disputes of accepted outcomes (list, show, answer,
resolve), on the database directly. Customers open disputes with their own key over HTTP
(`POST /v1/outcomes/claims/{id}/dispute`): the CLI acts as the vendor."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from valueproof.cli.context import TenantOption, engine_of, invocation, keyring_of, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.outcomes import disputes
from valueproof.outcomes.disputes import Dispute, dispute_json
from valueproof.store import read
from valueproof.success import writes
from valueproof.success.plans import Adherence, adherence, adherence_json
from valueproof.tenancy.accounts import account_id

app = command_group(
    "Disputes of accepted outcomes: the customer opens one over HTTP with its key; the vendor "
    "answers and resolves it here. Each step is a ledger leaf; an upheld dispute voids the "
    "outcome, credited on the next invoice when it was billed already."
)

ClaimArgument = Annotated[str, typer.Argument(metavar="CLAIM_ID", help="The disputed claim.")]


@app.command("list")
def list_disputes(
    ctx: typer.Context,
    account: Annotated[
        str | None, typer.Option(metavar="ACCOUNT", help="Only this account's disputes.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(metavar="STATUS", help="Only disputes open, answered, upheld or rejected."),
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Disputes, oldest first."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = disputes.disputes(connection, owner.id, account, status)
    if as_json:
        print_json({"disputes": [dispute_json(item) for item in found]})
        return
    print_table(
        ["claim", "account", "outcome", "status", "opened", "steps", "window_closes"],
        [
            (
                item.claim.id,
                item.claim.account,
                item.claim.outcome,
                item.status,
                dispute_json(item)["steps"][0]["at"],
                len(item.steps),
                dispute_json(item)["window_closes"],
            )
            for item in found
        ],
        numeric={"steps"},
    )


@app.command("show")
def show(
    ctx: typer.Context,
    claim_id: ClaimArgument,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A dispute with every step (texts and the salts that open their leaves' commitments) and
    the customer's success-plan adherence when it was opened."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        answer = _with_plan(connection, owner.id, disputes.dispute(connection, owner.id, claim_id))
    _print(answer, as_json)


@app.command("answer")
def answer(
    ctx: typer.Context,
    claim_id: ClaimArgument,
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The vendor's answer.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer an open dispute (a leaf); exit 4 when it is resolved already."""
    owner = tenant_of(ctx, tenant)
    step = writes.answer_dispute(engine_of(ctx), owner.id, claim_id, text, _policy(ctx))
    _print(_step_json(step), as_json)


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    claim_id: ClaimArgument,
    resolution: Annotated[
        str, typer.Argument(metavar="RESOLUTION", help="upheld (void the outcome) or rejected.")
    ],
    note: Annotated[str, typer.Option(metavar="TEXT", help="Why (on the ledger as a hash).")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Resolve a dispute (a leaf): `upheld` voids the outcome, `rejected` keeps it billable.

    Exit 4 when it is resolved already, 3 when there is no dispute, 2 for a bad RESOLUTION."""
    owner = tenant_of(ctx, tenant)
    step = writes.resolve_dispute(
        engine_of(ctx), owner.id, claim_id, resolution, note, _policy(ctx)
    )
    _print(_step_json(step), as_json)


def _policy(ctx: typer.Context) -> CheckpointPolicy:
    return CheckpointPolicy.from_settings(keyring_of(ctx), invocation(ctx).config)


def _step_json(step: tuple[Dispute, Adherence]) -> dict[str, Any]:
    found, plan = step
    return {**dispute_json(found), "success_plan": adherence_json(plan)}


def _with_plan(connection: Connection, tenant_id: int, found: Dispute) -> dict[str, Any]:
    answer = dispute_json(found)
    owner = account_id(connection, tenant_id, found.claim.account)
    plan = adherence(connection, tenant_id, owner, found.steps[0].at_us)
    answer["success_plan"] = adherence_json(plan)
    return answer


def _print(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(answer)
        return
    say(
        f"claim {answer['claim']} ({answer['account']}, {answer['outcome']}): {answer['status']}"
        f", window closes {answer['window_closes']}"
    )
    print_table(
        ["seq", "step", "party", "at", "leaf_index", "text"],
        [
            (
                s["seq"],
                s["resolution"] if "resolution" in s else s["step"],
                s["party"],
                s["at"],
                s["leaf_index"],
                s["text"],
            )
            for s in answer["steps"]
        ],
        numeric={"seq", "leaf_index"},
    )
    plan = answer["success_plan"]
    say(
        f"success plan when opened: {plan['due']} customer actions due, "
        f"{plan['done_on_time']} done on time, {plan['done_late']} late, {plan['missed']} missed"
    )
