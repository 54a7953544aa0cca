"""`valueproof stripe`: the payment hand-off to Stripe, run from cron or by hand."""

from __future__ import annotations

import typer

from valueproof.billing.stripe_handoff import PushResult, pushing
from valueproof.cli.context import TenantOption, engine_of, invocation, tenant_of
from valueproof.cli.output import EXIT_FAILED, JsonFlag, command_group, print_json, say, warn

app = command_group(
    "Stripe: push finalized invoices to Stripe, which collects them (`VALUEPROOF_STRIPE_*`)."
)


@app.command("push")
def push(ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False) -> None:
    """Push every finalized invoice not yet in Stripe as a Stripe invoice, one item per line, and
    finalize it there; resumes a push that stopped half-way. Exits 1 if Stripe refused any."""
    owner = tenant_of(ctx, tenant)
    results: list[PushResult] = []
    for result in pushing(engine_of(ctx), owner.id, invocation(ctx).config):
        results.append(result)
        if not as_json:
            _say(result)
    if as_json:
        print_json({"pushed": [result.json() for result in results]})
    elif not results:
        say("nothing to push")
    if any(result.error is not None for result in results):
        raise typer.Exit(EXIT_FAILED)


def _say(result: PushResult) -> None:
    if result.error is not None:
        warn(f"{result.number}: not pushed: {result.error}")
        return
    resumed = " (resumed)" if result.resumed else ""
    say(f"{result.number} -> {result.stripe_invoice_id}: {result.items} items{resumed}")
