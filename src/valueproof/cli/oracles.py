"""`valueproof oracle`: a data source's side (keygen, sign, submit over HTTP, with no database)
and the vendor's (apply sources and metric rules, list them, read readings and values)."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.client import HTTPException, HTTPMessage
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import orjson
import typer
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from valueproof.cli.context import TenantOption, engine_of, file_argument, tenant_of
from valueproof.cli.output import (
    EXIT_FAILED,
    JsonFlag,
    command_group,
    print_json,
    print_table,
    say,
    warn,
)
from valueproof.errors import InvalidInput
from valueproof.metering.definitions import parse_document
from valueproof.outcomes import oracles
from valueproof.outcomes.aggregation import Flag
from valueproof.outcomes.oracles import (
    MetricDefinition,
    SourceDefinition,
    stored_reading_json,
    value_json,
)
from valueproof.outcomes.readings import (
    Reading,
    ReadingRefused,
    new_nonce,
    public_key_text,
    sign_reading,
    submission,
)
from valueproof.periods import parse_instant_field
from valueproof.store import read, tenant_lock, write
from valueproof.tenancy.clock import now_us

app = command_group(
    "Oracles: signed KPI readings from agreed data sources. `keygen`, `sign` and `submit` are "
    "the source's side and need no database; the rest act on the vendor's."
)

Document = TypeVar("Document", SourceDefinition, MetricDefinition)

_MAX_REPLY = 64 * 1024 * 1024
_STATUSES = ("accepted", "duplicate", "conflict", "rejected")
# What `sign` calls each option, for the fields a refused reading names.
_OPTION_OF = {f"reading.{name}": f"--{name}" for name in ("source", "metric", "value", "nonce")}
_OPTION_OF["reading.as_of"] = "--as-of"

PassphraseEnv = Annotated[
    str | None,
    typer.Option(
        metavar="VAR",
        help="The environment variable holding the key file's passphrase.",
        show_default=False,
    ),
]


@app.command("keygen")
def keygen(
    out: Annotated[
        Path, typer.Option(metavar="FILE", dir_okay=False, help="Where to write the private key.")
    ],
    passphrase_env: PassphraseEnv = None,
) -> None:
    """Make a source's Ed25519 key: the private key to FILE (PKCS#8 PEM, mode 0600, encrypted
    with the passphrase in `--passphrase-env` if given); print the public key to register.

    Never overwrites a file (exit 2)."""
    key = Ed25519PrivateKey.generate()
    secret = _passphrase(passphrase_env)
    protection: KeySerializationEncryption = (
        NoEncryption() if secret is None else BestAvailableEncryption(secret)
    )
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, protection)
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput("--out", f"{str(out)!r} exists; keygen never overwrites a key") from None
    except OSError as error:
        raise InvalidInput("--out", f"cannot create {str(out)!r}: {error.strerror}") from None
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(pem)
    say(public_key_text(key.public_key()))
    warn(f"wrote the private key to {out}; register the public key above with the vendor")


@app.command("sign")
def sign(
    key: Annotated[Path, typer.Option(metavar="FILE", exists=True, dir_okay=False)],
    source: Annotated[str, typer.Option(metavar="SOURCE", help="The source's key.")],
    metric: Annotated[str, typer.Option(metavar="METRIC", help="The metric's key.")],
    value: Annotated[str, typer.Option(metavar="DECIMAL", help='Decimal text, as "108.5".')],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="RFC3339", help="When the value held (default: now)."),
    ] = None,
    nonce: Annotated[
        str | None,
        typer.Option(metavar="NONCE", help="8-128 of A-Z a-z 0-9 _ - (default: a random one)."),
    ] = None,
    passphrase_env: PassphraseEnv = None,
) -> None:
    """Sign one reading with the key in FILE and print its submission, one line of JSON.

    Works offline: it needs neither the database nor the server."""
    private_key = _load_key(key, _passphrase(passphrase_env))
    moment = datetime.now(UTC) if as_of is None else parse_instant_field("--as-of", as_of)
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidInput("--value", f"{value!r} is not decimal text") from None
    try:
        reading = Reading(source, metric, amount, moment, nonce or new_nonce())
    except ReadingRefused as error:
        raise InvalidInput(_OPTION_OF.get(error.field, error.field), error.reason) from None
    signed_text = reading.payload()["value"]
    if signed_text != value:
        raise InvalidInput("--value", f"write it as plain decimal text: {signed_text!r}")
    say(orjson.dumps(submission(reading, sign_reading(private_key, reading))).decode())


@app.command("submit")
def submit(
    path: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-",
            help='Submissions: a JSON object (one, or {"readings": [...]}) or JSON lines; '
            "`-` reads stdin.",
        ),
    ],
    url: Annotated[str, typer.Option(metavar="BASE_URL", help="The vendor's API, as https://…")],
    api_key_env: Annotated[
        str, typer.Option(metavar="VAR", help="The environment variable holding the API key.")
    ] = "VALUEPROOF_API_KEY",
    as_json: JsonFlag = False,
) -> None:
    """POST signed readings to the vendor's `/v1/oracles/readings` and print each outcome.

    Exit 0: every reading is on record (accepted or duplicate); 1: some were rejected or in
    conflict; 2: bad input, a refused request, or the server could not be reached."""
    token = os.environ.get(api_key_env)
    if not token:
        raise InvalidInput("--api-key-env", f"${api_key_env} holds no API key")
    items = _submissions(sys.stdin.read() if path == "-" else _read_text(Path(path)))
    endpoint = f"{url.rstrip('/')}/v1/oracles/readings"
    answer = _post(endpoint, token, orjson.dumps({"readings": items}))
    if as_json:
        print_json(answer)
    else:
        _print_outcomes(answer)
    if answer["conflict"] or answer["rejected"]:
        raise typer.Exit(EXIT_FAILED)


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
    applied: list[tuple[str, str, str]] = []
    with write(engine_of(ctx)) as connection:
        tenant_lock(connection, owner.id)
        now = now_us()
        for source in found_sources:
            status = oracles.apply_source(connection, owner.id, source, now)
            applied.append(("source", source.key, status))
        for index, metric in enumerate(found_metrics):
            try:
                status = oracles.apply_metric(connection, owner.id, metric, now)
            except InvalidInput as error:
                raise InvalidInput(f"metrics[{index}].{error.field}", error.reason) from None
            applied.append(("metric", metric.key, status))
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


def _passphrase(variable: str | None) -> bytes | None:
    if variable is None:
        return None
    secret = os.environ.get(variable)
    if not secret:
        raise InvalidInput("--passphrase-env", f"${variable} holds no passphrase")
    return secret.encode()


def _load_key(path: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), passphrase)
    except OSError as error:
        raise InvalidInput("--key", f"cannot read {str(path)!r}: {error.strerror}") from None
    except TypeError:  # encrypted without a passphrase given, or the reverse
        reason = "is encrypted: give --passphrase-env" if passphrase is None else "is not encrypted"
        raise InvalidInput("--key", reason) from None
    except ValueError:
        raise InvalidInput(
            "--key", "is not a PEM private key, or the passphrase is wrong"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("--key", "is not an Ed25519 private key")
    return key


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput("FILE", f"cannot read {str(path)!r}: {error}") from None


def _submissions(text: str) -> list[Any]:
    """One JSON document (a submission, `{"readings": [...]}` or a list), or JSON lines."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError:
        document = [_json_line(number, line) for number, line in _lines(text)]
    if isinstance(document, dict) and set(document) == {"readings"}:
        document = document["readings"]
    items = document if isinstance(document, list) else [document]
    if not items:
        raise InvalidInput("FILE", "holds no submissions")
    return items


def _lines(text: str) -> list[tuple[int, str]]:
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _json_line(number: int, line: str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"line {number}", f"not JSON: {error}") from None


def _post(url: str, token: str, body: bytes) -> dict[str, Any]:
    """POST the batch; the answer with its outcomes, or InvalidInput saying why there is none."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=60) as response:
            status, reply = response.status, response.read(_MAX_REPLY)
    except urllib.error.HTTPError as error:
        with error:
            status, reply = error.code, error.read(_MAX_REPLY)
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise InvalidInput("--url", f"POST {url}: {reason}") from None
    try:
        answer = orjson.loads(reply)
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict) and _has_outcomes(answer):
        return answer
    detail = answer.get("detail") if isinstance(answer, dict) else None
    raise InvalidInput("--url", f"POST {url}: HTTP {status}: {detail or 'no outcomes returned'}")


def _has_outcomes(answer: dict[str, Any]) -> bool:
    counted = all(isinstance(answer.get(status), int) for status in _STATUSES)
    return counted and isinstance(answer.get("results"), list)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the API key elsewhere or turn the POST into a GET: refuse it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _print_outcomes(answer: dict[str, Any]) -> None:
    say(
        f"accepted {answer['accepted']}, duplicate {answer['duplicate']}, "
        f"conflict {answer['conflict']}, rejected {answer['rejected']}"
    )
    rows = [
        (r["index"], r["status"], r["leaf_index"], e["field"], e["reason"])
        for r in answer["results"]
        for e in (r["errors"] or [{"field": "", "reason": ""}])
    ]
    print_table(["index", "status", "leaf_index", "field", "reason"], rows, numeric={"index"})


def _read_oracle_file(path: Path) -> tuple[list[SourceDefinition], list[MetricDefinition]]:
    """Every document of the file, validated; errors name the path, as `metrics[1].rule`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InvalidInput("(document)", f"not a YAML or JSON document: {error}") from None
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
