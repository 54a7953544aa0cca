"""`valueproof outcomes`: outcome definitions and claims, each verdict a ledger leaf; the same
store functions as `/v1/outcomes`, on the database directly."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from sqlalchemy import Engine

from valueproof.batches import BatchCounts
from valueproof.cli.context import (
    TenantOption,
    engine_of,
    file_argument,
    invocation,
    keyring_of,
    read_text,
    tenant_of,
)
from valueproof.cli.output import (
    JsonFlag,
    batch_exit,
    command_group,
    print_json,
    print_table,
    say,
)
from valueproof.contracts.writes import submit_claims
from valueproof.documents import NUL_REASON, nul_field
from valueproof.errors import InvalidInput
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.schema import FieldError
from valueproof.outcomes import claim_records, definition_store, writes
from valueproof.outcomes.claim_records import (
    ClaimResult,
    batch_status,
    claim_json,
    claim_result_json,
)
from valueproof.outcomes.definition_store import definition_json
from valueproof.outcomes.definitions import read_definition
from valueproof.store import read
from valueproof.strict_json import DuplicateKey, describe, loads_strict

app = command_group(
    "Outcome pricing: definitions of what a claimed outcome must meet, and claims, each "
    "recorded with its verdict on the ledger."
)

DEFAULT_CHUNK = 1_000
PROBLEMS_SHOWN = 20


@app.command("define")
def define(
    ctx: typer.Context,
    path: Annotated[Path, file_argument("An outcome definition, YAML or JSON.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record an outcome definition; a changed document is a new version (and a new leaf).

    Every problem of an invalid definition is listed (exit 2) and nothing is recorded."""
    definition = read_definition(read_text(path, "path"))
    owner = tenant_of(ctx, tenant)
    status, stored = writes.apply_definition(engine_of(ctx), owner.id, definition)
    if as_json:
        print_json({"status": status, **definition_json(stored)})
        return
    say(
        f"{stored.contract}/{stored.outcome}: {status}, version {stored.version}, "
        f"leaf {stored.leaf_index}"
    )


@app.command("definitions")
def list_definitions(
    ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """The latest version of every outcome definition."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = definition_store.definitions(connection, owner.id)
    if as_json:
        print_json({"definitions": [definition_json(d) for d in found]})
        return
    print_table(
        [
            "contract",
            "outcome",
            "version",
            "criteria",
            "verification_days",
            "dispute_days",
            "leaf_index",
        ],
        [
            (
                d.contract,
                d.outcome,
                d.version,
                ", ".join(c.name for c in d.definition.criteria),
                d.definition.verification_window_days,
                d.definition.dispute_window_days,
                d.leaf_index,
            )
            for d in found
        ],
        numeric={"version", "verification_days", "dispute_days", "leaf_index"},
    )


@dataclass(slots=True)
class ClaimTally:
    """The counts of a run: each item's status, and the verdicts of the items on record."""

    statuses: BatchCounts = field(default_factory=BatchCounts)
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def record(self, results: Sequence[ClaimResult]) -> None:
        for result in results:
            self.statuses.add([batch_status(result)])
            if result.accepted is None:
                continue
            self.verdicts["accepted" if result.accepted else "refused"] += 1
            # A claim counts once under each code it was refused for.
            self.reasons.update({reason.code for reason in result.reasons})


@app.command("claim")
def claim(
    ctx: typer.Context,
    path: Annotated[
        Path, file_argument('Claims as JSONL (one claim per line) or JSON `{"claims": [...]}`.')
    ],
    tenant: TenantOption = None,
    chunk: Annotated[
        int, typer.Option(min=1, help="Claims per transaction.", show_default=True)
    ] = DEFAULT_CHUNK,
    as_json: JsonFlag = False,
) -> None:
    """Verify and record the claims of a file, one transaction per chunk, and count the
    verdicts.

    Exit 0: every claim is on record and accepted by its verdict (now, or a duplicate); 1: some
    were rejected (malformed, or refused by the verdict) or in conflict; 2: an unreadable file."""
    items = list(_claim_items(path))
    here = invocation(ctx)
    policy = CheckpointPolicy.from_settings(keyring_of(ctx), here.config)
    secret = here.config.ledger_passphrase  # also opens the accounts' known-set secrets
    passphrase = None if secret is None else secret.get_secret_value()
    owner = tenant_of(ctx, tenant)
    tally = ClaimTally()
    results: list[ClaimResult] = []
    for offset in range(0, len(items), chunk):
        batch = items[offset : offset + chunk]
        taken = _submit(here.engine, owner.id, batch, passphrase, policy)
        taken = [replace(result, index=result.index + offset) for result in taken]
        tally.record(taken)
        results.extend(taken)
    report = _claims_report(path, owner.slug, tally)
    if as_json:
        print_json({**report, "results": [claim_result_json(r) for r in results]})
    else:
        _print_claims_report(report, results)
    if batch_exit(tally.statuses):
        raise typer.Exit(batch_exit(tally.statuses))


@app.command("show")
def show(
    ctx: typer.Context,
    claim_id: Annotated[str, typer.Argument(metavar="CLAIM_ID", help="The claim's id.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A claim on record: its verdict with every reason, its leaf, and the salts of its
    personal attributes (the customer recomputes their commitments with them)."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = claim_json(claim_records.stored_claim(connection, owner.id, claim_id))
    if as_json:
        print_json(found)
        return
    verdict = found["verdict"]
    say(
        f"claim {found['id']}: {'accepted' if verdict['accepted'] else 'refused'}, "
        f"leaf {found['leaf_index']}"
    )
    say(
        f"account {found['account']}, {found['contract']}/{found['outcome']} "
        f"(definition version {found['definition_version']}), occurred {found['occurred_at']}, "
        f"submitted {found['submitted_at']}"
    )
    print_table(
        ["attribute", "value", "salt"],
        [(name, value, found["salts"].get(name)) for name, value in found["attributes"].items()],
    )
    if verdict["reasons"]:
        print_table(
            ["code", "field", "detail"],
            [(r["code"], r["field"], r["detail"]) for r in verdict["reasons"]],
            title="reasons",
        )


# --- reading and submitting claims ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A JSONL line that is not JSON, or an item with a NUL byte: refused as its item, without
    reaching the store."""

    reason: str
    field: str = "(line)"


def _readable(item: Any) -> Any:
    """The item, or Unreadable naming the field of a NUL byte (no text we store may hold one)."""
    found = None if isinstance(item, Unreadable) else nul_field(item, "(item)")
    return item if found is None else Unreadable(NUL_REASON, found)


def _claim_items(path: Path) -> Iterator[Any]:
    """The items of a claims file, in order: a JSON document `{"claims": [...]}`, else JSONL
    (blank lines skipped; a line that is not JSON is one refused item)."""
    text = read_text(path, "path")
    try:
        document = loads_strict(text)
    except DuplicateKey as error:
        if _one_document(text):  # not JSON lines: the document itself names a key twice
            raise InvalidInput("(document)", describe(error)) from None
        document = None
    except json.JSONDecodeError:
        document = None
    if isinstance(document, dict) and "claims" in document:
        if not isinstance(document["claims"], list):
            raise InvalidInput("claims", 'must be a list: {"claims": [...]}')
        yield from map(_readable, document["claims"])
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield _readable(loads_strict(line))
        except json.JSONDecodeError as error:
            yield Unreadable(f"line {number} is not JSON: {describe(error)}")


def _one_document(text: str) -> bool:
    try:
        orjson.loads(text)  # orjson lets a duplicate key through: only the shape is asked
    except orjson.JSONDecodeError:
        return False
    return True


def _submit(
    engine: Engine,
    tenant_id: int,
    batch: Sequence[Any],
    passphrase: str | None,
    policy: CheckpointPolicy,
) -> list[ClaimResult]:
    """submit_claims on the readable items, the unreadable ones refused in their places."""
    readable = [item for item in batch if not isinstance(item, Unreadable)]
    taken = iter(submit_claims(engine, tenant_id, readable, passphrase, policy))
    results = []
    for index, item in enumerate(batch):
        if isinstance(item, Unreadable):
            error = FieldError(item.field, item.reason)
            results.append(ClaimResult(index, None, "rejected", (error,)))
        else:
            results.append(replace(next(taken), index=index))
    return results


# --- the report ----------------------------------------------------------------------------------


def _claims_report(path: Path, tenant: str, tally: ClaimTally) -> dict[str, Any]:
    statuses = tally.statuses
    return {
        "file": str(path),
        "tenant": tenant,
        "items": statuses.total,
        **statuses.as_json(),
        "verdicts": {
            "accepted": tally.verdicts["accepted"],
            "refused": tally.verdicts["refused"],
            "reasons": dict(sorted(tally.reasons.items())),
        },
    }


def _print_claims_report(report: dict[str, Any], results: Sequence[ClaimResult]) -> None:
    say(
        f"{report['items']} claims from {report['file']} into tenant {report['tenant']}: "
        f"accepted {report['accepted']}, duplicate {report['duplicate']}, "
        f"conflict {report['conflict']}, rejected {report['rejected']}"
    )
    verdicts = report["verdicts"]
    reasons = ", ".join(f"{code} {count}" for code, count in verdicts["reasons"].items())
    say(
        f"verdicts: accepted {verdicts['accepted']}, refused {verdicts['refused']}"
        + (f" ({reasons})" if reasons else "")
    )
    problems = [r for r in results if r.status in ("conflict", "rejected")]
    if not problems:
        return
    shown = problems[:PROBLEMS_SHOWN]
    title = f"first {len(shown)} of {len(problems)} problems" if problems[PROBLEMS_SHOWN:] else None
    print_table(
        ["item", "id", "status", "field", "reason"],
        [(r.index + 1, r.id, r.status, e.field, e.reason) for r in shown for e in r.errors],
        title=title or "problems",
        numeric={"item"},
    )
