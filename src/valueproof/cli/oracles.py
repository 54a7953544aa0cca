"""`valueproof oracle`: a data source's side (keygen, sign, submit over HTTP, with no database)
and the vendor's (apply sources and metric rules, list them, read readings and values)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml

from valueproof.cli import oracle_source
from valueproof.cli.context import TenantOption, engine_of, file_argument, tenant_of
from valueproof.cli.output import (
    JsonFlag,
    command_group,
    print_json,
    print_table,
    say,
)
from valueproof.documents import refuse_nul
from valueproof.errors import InvalidInput
from valueproof.metering.definitions import parse_document
from valueproof.outcomes import oracles, writes
from valueproof.outcomes.aggregation import Flag
from valueproof.outcomes.oracles import (
    MetricDefinition,
    SourceDefinition,
    stored_reading_json,
    value_json,
)
from valueproof.periods import parse_instant_field
from valueproof.store import read

app = command_group(
    "Oracles: signed KPI readings from agreed data sources. `keygen`, `sign` and `submit` are "
    "the source's side and need no database; the rest act on the vendor's."
)

Document = TypeVar("Document", SourceDefinition, MetricDefinition)


# The source's side, run by the customer; see oracle_source.
app.command("keygen")(oracle_source.keygen)
app.command("sign")(oracle_source.sign)
app.command("submit")(oracle_source.submit)


@app.command("apply")
def apply(
    ctx: typer.Context,
    path: Annotated[Path, file_argument("YAML or JSON with `sources:` and `metrics:` lists.")],
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Register the sources and set the metric rules of a file, all in one transaction.

    Every document is checked first, then each metric against the sources; one error refuses
    the whole file (exit 2) and nothing is applied."""
    found_sources, found_metrics = _read_oracle_file(path)
    owner = tenant_of(ctx, tenant)
    applied = writes.apply_oracles(engine_of(ctx), owner.id, found_sources, found_metrics)
    if as_json:
        print_json({"applied": [{"kind": k, "key": key, "status": s} for k, key, s in applied]})
        return
    print_table(["kind", "key", "status"], applied)


@app.command("sources")
def list_sources(
    ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """List the registered sources, their keys and the metrics each may report."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = oracles.sources(connection, owner.id)
    definitions = [found[key][1] for key in sorted(found)]
    if as_json:
        print_json({"sources": [s.model_dump(mode="json") for s in definitions]})
        return
    print_table(
        ["key", "name", "metrics", "max_age_seconds", "public_key"],
        [
            (s.key, s.name, ", ".join(s.metrics), s.max_age_seconds, s.public_key)
            for s in definitions
        ],
        numeric={"max_age_seconds"},
    )


@app.command("metrics")
def list_metrics(
    ctx: typer.Context, tenant: TenantOption = None, as_json: JsonFlag = False
) -> None:
    """List the metrics and their rules."""
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = oracles.metrics(connection, owner.id)
    definitions = [found[key] for key in sorted(found)]
    if as_json:
        print_json({"metrics": [m.model_dump(mode="json") for m in definitions]})
        return
    print_table(
        ["key", "rule", "sources", "min_sources", "tolerance", "max_age_seconds"],
        [
            (
                m.key,
                m.rule.value,
                ", ".join(m.sources),
                m.min_sources,
                m.tolerance,
                m.max_age_seconds,
            )
            for m in definitions
        ],
        numeric={"min_sources", "tolerance", "max_age_seconds"},
    )


@app.command("readings")
def list_readings(
    ctx: typer.Context,
    metric: Annotated[str, typer.Option(metavar="METRIC", help="The metric's key.")],
    start: Annotated[
        str | None, typer.Option("--from", metavar="RFC3339", help="as_of from (inclusive).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="RFC3339", help="as_of until (exclusive).")
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A metric's accepted readings, oldest first, each with its ledger leaf."""
    since = None if start is None else parse_instant_field("--from", start)
    until = None if end is None else parse_instant_field("--to", end)
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = oracles.stored_readings(connection, owner.id, metric, since, until)
    rows = [stored_reading_json(reading) for reading in found]
    if as_json:
        print_json({"metric": metric, "readings": rows})
        return
    print_table(
        ["source", "value", "as_of", "nonce", "leaf_index"],
        [(r["source"], r["value"], r["as_of"], r["nonce"], r["leaf_index"]) for r in rows],
        numeric={"value", "leaf_index"},
    )


@app.command("value")
def value(
    ctx: typer.Context,
    metric: Annotated[str, typer.Option(metavar="METRIC", help="The metric's key.")],
    at: Annotated[
        str | None, typer.Option(metavar="RFC3339", help="The instant (default: now).")
    ] = None,
    tenant: TenantOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The metric's value by its rule, or the flag that stands in for a number (exit 0 either
    way), with the readings it used."""
    moment = datetime.now(UTC) if at is None else parse_instant_field("--at", at)
    owner = tenant_of(ctx, tenant)
    with read(engine_of(ctx)) as connection:
        found = oracles.metric_value(connection, owner.id, metric, moment)
    answer = value_json(found)
    if as_json:
        print_json(answer)
        return
    if isinstance(found, Flag):
        say(f"{metric}: flagged, no value: {found.reason}")
    else:
        say(f"{metric}: {answer['value']} as of {answer['as_of']}")
    if not answer["used"]:
        return
    print_table(
        ["source", "value", "as_of", "leaf_index"],
        [(u["source"], u["value"], u["as_of"], u["leaf_index"]) for u in answer["used"]],
        title="readings used",
        numeric={"value", "leaf_index"},
    )


def _read_oracle_file(path: Path) -> tuple[list[SourceDefinition], list[MetricDefinition]]:
    """Every document of the file, validated; errors name the path, as `metrics[1].rule`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InvalidInput("(document)", f"not a YAML or JSON document: {error}") from None
    refuse_nul(document)
    if not isinstance(document, dict):
        raise InvalidInput("(document)", "expected a mapping with sources: and metrics:")
    for name in document:
        if name not in ("sources", "metrics"):
            raise InvalidInput(str(name), "unknown section; expected sources and metrics")
    return (
        _documents(SourceDefinition, document, "sources"),
        _documents(MetricDefinition, document, "metrics"),
    )


def _documents(model: type[Document], document: dict[str, Any], section: str) -> list[Document]:
    items = document.get(section) or []
    if not isinstance(items, list):
        raise InvalidInput(section, "must be a list")
    parsed: list[Document] = []
    for index, item in enumerate(items):
        where = f"{section}[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(where, "must be a mapping")
        try:
            checked: Document = parse_document(model, item, f"{where}.")
        except InvalidInput as error:  # a model's own check (the public key) names no path
            field = error.field if error.field.startswith(where) else f"{where}.{error.field}"
            raise InvalidInput(field, error.reason) from None
        earlier = next((at for at, seen in enumerate(parsed) if seen.key == checked.key), None)
        if earlier is not None:
            reason = f"{checked.key!r} is defined already at {section}[{earlier}]"
            raise InvalidInput(f"{where}.key", reason)
        parsed.append(checked)
    return parsed
