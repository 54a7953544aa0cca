"""`valueproof webhooks`: endpoints (add, list, update, remove), the delivery log, replay, and
running the due deliveries once (what `serve` does on its beat). Endpoint secrets are sealed
with VALUEPROOF_LEDGER_PASSPHRASE: adding an endpoint and delivering need it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from valueproof.cli.context import TenantOption, engine_of, invocation, tenant_of
from valueproof.cli.output import JsonFlag, command_group, print_json, print_table, say, warn
from valueproof.periods import format_micros
from valueproof.store import read
from valueproof.webhooks import writes
from valueproof.webhooks.delivery_store import Delivery, deliveries, delivery_json
from valueproof.webhooks.endpoint_store import Endpoint, endpoint_json, endpoints

app = command_group(
    "Webhooks: endpoints that receive signed events (Standard Webhooks), their delivery log, "
    "replay, and delivering what is due."
)
endpoint_app = command_group("A tenant's webhook endpoints.")
app.add_typer(endpoint_app, name="endpoint")

EndpointArgument = Annotated[str, typer.Argument(metavar="ENDPOINT_ID", help="`ep_...`.")]
EventTypeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--event-type",
        metavar="TYPE",
        help="Send only this event type (repeat for more); none: every type.",
    ),
]


def _passphrase(ctx: typer.Context) -> str | None:
    secret = invocation(ctx).config.ledger_passphrase
    return secret.get_secret_value() if secret is not None else None


def _print_endpoints(found: list[Endpoint]) -> None:
    print_table(
        ["id", "url", "event types", "enabled", "disabled because"],
        [
            (e.public_id, e.url, " ".join(e.event_types) or "(all)", e.enabled, e.disabled_reason)
            for e in found
        ],
    )


@endpoint_app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(metavar="URL", help="Where to POST: http or https.")],
    event_type: EventTypeOption = None,
    description: Annotated[str, typer.Option(help="What the endpoint is for.")] = "",
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add an endpoint; prints its secret `whsec_...` this once: give it to the receiver."""
    owner = tenant_of(ctx, tenant)
    found, secret = writes.add_endpoint(
        engine_of(ctx), owner.id, url, event_type or [], description, _passphrase(ctx)
    )
    if as_json:
        print_json({**endpoint_json(found), "secret": secret})
        return
    say(f"added endpoint {found.public_id} -> {found.url}")
    say(f"secret (shown once): {secret}")


@endpoint_app.command("list")
def list_endpoints(
    ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """The tenant's endpoints; a disabled one says why."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = endpoints(connection, owner.id)
    if as_json:
        print_json({"endpoints": [endpoint_json(e) for e in found]})
        return
    _print_endpoints(found)


@endpoint_app.command("update")
def update(
    ctx: typer.Context,
    endpoint_id: EndpointArgument,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    event_type: EventTypeOption = None,
    all_events: Annotated[
        bool, typer.Option("--all-events", help="Send every event type.")
    ] = False,
    enabled: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="Enable (clears why it was disabled) or disable the endpoint.",
            show_default=False,
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an endpoint; all or nothing."""
    owner = tenant_of(ctx, tenant)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = url
    if event_type or all_events:
        changes["event_types"] = [] if all_events else event_type
    if enabled is not None:
        changes["enabled"] = enabled
    if description is not None:
        changes["description"] = description
    found = writes.change_endpoint(engine_of(ctx), owner.id, endpoint_id, changes)
    if as_json:
        print_json(endpoint_json(found))
        return
    _print_endpoints([found])


@endpoint_app.command("remove")
def remove(ctx: typer.Context, endpoint_id: EndpointArgument, tenant: TenantOption = None) -> None:
    """Remove an endpoint and its delivery log."""
    owner = tenant_of(ctx, tenant)
    writes.drop_endpoint(engine_of(ctx), owner.id, endpoint_id)
    say(f"removed endpoint {endpoint_id}")


@app.command("deliveries")
def list_deliveries(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None, typer.Option(metavar="ENDPOINT_ID", help="Only this endpoint's.")
    ] = None,
    message: Annotated[str | None, typer.Option(metavar="MSG", help="Only this message's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The latest deliveries, newest first, with their attempts (`--json`: every attempt)."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = deliveries(connection, owner.id, endpoint, limit, message)
    if as_json:
        print_json({"deliveries": [delivery_json(d) for d in found]})
        return
    print_table(
        ["message", "type", "endpoint", "status", "attempts", "last answer", "next attempt"],
        [_delivery_row(d) for d in found],
        numeric={"attempts"},
    )


def _delivery_row(delivery: Delivery) -> tuple[object, ...]:
    last = delivery.attempts[-1] if delivery.attempts else None
    answer = None if last is None else last.status_code or last.error
    later = delivery.next_attempt_us
    return (
        delivery.message_id,
        delivery.event_type,
        delivery.endpoint,
        delivery.status,
        len(delivery.attempts),
        answer,
        None if later is None else format_micros(later),
    )


@app.command("replay")
def replay(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(metavar="MSG", help="The message, `msg_...`.")],
    endpoint: Annotated[
        str | None,
        typer.Option(
            metavar="ENDPOINT_ID",
            help="Only to this endpoint (default: every enabled endpoint the message went to).",
        ),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Deliver a message again, with the same `webhook-id`; the next delivery run sends it."""
    owner = tenant_of(ctx, tenant)
    ids = writes.replay_message(engine_of(ctx), owner.id, message_id, endpoint)
    say(f"replaying {message_id}: {len(ids)} new deliveries")


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            metavar="SLUG",
            help="Only this tenant's (default: every tenant's).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the due deliveries once, as `serve` does on its beat, and print what happened."""
    here = invocation(ctx)
    owner = None if tenant is None else tenant_of(ctx, tenant).id
    counts = writes.deliver_due(here.engine, here.config, owner)
    document = {
        "delivered": counts.delivered,
        "retrying": counts.retrying,
        "failed": counts.failed,
        "endpoints_disabled": counts.disabled,
    }
    if as_json:
        print_json(document)
        return
    say(", ".join(f"{value} {name.replace('_', ' ')}" for name, value in document.items()))
    if counts.disabled:
        warn("an endpoint was disabled: see `valueproof webhooks endpoint list`")
