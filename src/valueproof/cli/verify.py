"""`valueproof verify`: a customer checks the vendor's signed checkpoints, proofs and whole log,
and re-computes an invoice from its proof bundle.

Needs no database and no server code, only `valueproof.ledger`'s verifier (and, for invoices,
the pure `billing.invoice_check`) and the vendor's verifier keys. Exit 0: verified; 1:
verification failed; 2: the input files or options are bad.
"""

from __future__ import annotations

import base64
import gc
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from valueproof.cli.output import command_group, print_json, say
from valueproof.errors import InvalidInput
from valueproof.ledger.checkpoints import Checkpoint, parse_checkpoint
from valueproof.ledger.errors import LedgerError
from valueproof.ledger.notes import VerifierKey, parse_note, parse_vkey
from valueproof.ledger.verifier import (
    parse_consistency_proof,
    parse_entry,
    parse_inclusion_proof,
    verify_checkpoint,
    verify_consistency_document,
    verify_inclusion_document,
    verify_log,
)

if TYPE_CHECKING:
    from valueproof.billing.invoice_check import InvoiceReport

app = command_group(
    "Verify the vendor's signed checkpoints, proofs and whole log, with its verifier keys."
)

Parsed = TypeVar("Parsed")

VkeyOption = Annotated[
    list[str],
    typer.Option(
        "--vkey",
        metavar="VKEY",
        help="A trusted verifier key `<name>+<key id>+<base64 key>`, or `@FILE` with one key per "
        "line. Repeat it to trust several keys (during a key rotation).",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
OriginOption = Annotated[
    str | None,
    typer.Option(metavar="ORIGIN", help="The log's origin; the checkpoint must name this log."),
]


def _file_option(help_text: str) -> Any:
    return typer.Option(metavar="FILE", exists=True, dir_okay=False, help=help_text)


@app.command("checkpoint")
def checkpoint(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help='A signed checkpoint: the note text, or JSON with a "note" or "checkpoint" field.',
        ),
    ],
    vkey: VkeyOption,
    origin: OriginOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify a signed checkpoint's signature; print the log and the size it states."""
    verified = verify_checkpoint(_note_file(file), _trusted_keys(vkey), origin)
    _report(as_json, verified, f"verified checkpoint of {verified.origin} at size {verified.size}")


@app.command("inclusion")
def inclusion(
    vkey: VkeyOption,
    proof: Annotated[Path, _file_option("The inclusion proof (JSON) from the vendor's API.")],
    checkpoint: Annotated[
        Path | None,
        _file_option("The signed checkpoint to check against (default: the one in the proof)."),
    ] = None,
    entry: Annotated[
        Path | None, _file_option("The entry (JSON): also check its bytes hash to the leaf.")
    ] = None,
    origin: OriginOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify that an entry is in the log at a signed checkpoint."""
    keys = _trusted_keys(vkey)
    document = _parse_file(parse_inclusion_proof, proof, "proof")
    note = _note_or_embedded(checkpoint, document.checkpoint, "checkpoint")
    entry_document = None if entry is None else _parse_file(parse_entry, entry, "entry")
    verified = verify_checkpoint(note, keys, origin)
    verify_inclusion_document(verified, document, entry_document)
    _report(
        as_json,
        verified,
        f"verified: entry {document.index} is in {verified.origin} at size {verified.size}",
        index=document.index,
    )


@app.command("consistency")
def consistency(
    vkey: VkeyOption,
    proof: Annotated[Path, _file_option("The consistency proof (JSON) from the vendor's API.")],
    old: Annotated[
        Path | None, _file_option("The older signed checkpoint (default: the proof's).")
    ] = None,
    new: Annotated[
        Path | None, _file_option("The newer signed checkpoint (default: the proof's).")
    ] = None,
    origin: OriginOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify that the log at the new checkpoint extends the log at the old one."""
    keys = _trusted_keys(vkey)
    document = _parse_file(parse_consistency_proof, proof, "proof")
    old_note = _note_or_embedded(old, document.old_checkpoint, "old")
    new_note = _note_or_embedded(new, document.new_checkpoint, "new")
    older = verify_checkpoint(old_note, keys, origin)
    newer = verify_checkpoint(new_note, keys, origin or older.origin)
    verify_consistency_document(older, newer, document)
    _report(
        as_json,
        newer,
        f"verified: {newer.origin} at size {newer.size} extends size {older.size}",
        previous_size=older.size,
    )


@app.command("log")
def log(
    vkey: VkeyOption,
    url: Annotated[
        str, typer.Option(metavar="URL", help="The log's tiles URL (serves /checkpoint, /tile/).")
    ],
    state: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            dir_okay=False,
            help="Keeps the last verified checkpoint; each run must extend it. Updated only "
            "after a successful run.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            envvar="VALUEPROOF_API_KEY",
            help="API key for the vendor's log, if it asks for one.",
            show_default=False,
        ),
    ] = None,
    origin: OriginOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Download and verify the whole log: every entry, the root, and that it extends the state."""
    keys = _trusted_keys(vkey)
    previous = _state_checkpoint(state)
    headers = {} if api_key is None else {"Authorization": f"Bearer {api_key}"}
    report = verify_log(url, keys, previous, headers, origin=origin)
    if state is not None:
        _write_state(state, report.note)
    since = "" if previous is None else f", extending the size {previous.size} seen before"
    _report(
        as_json,
        report.checkpoint,
        f"verified log {report.checkpoint.origin}: {report.entries} entries{since}",
        previous_size=None if previous is None else previous.size,
    )


@app.command("invoice")
def invoice(
    bundle: Annotated[
        Path,
        typer.Argument(
            metavar="BUNDLE",
            exists=True,
            dir_okay=False,
            help="The invoice's proof bundle (JSON), as the vendor's API or `billing bundle` "
            "hands it out.",
        ),
    ],
    vkey: VkeyOption,
    as_json: JsonFlag = False,
) -> None:
    """Re-compute an invoice from its proof bundle: check the checkpoint's signature and every
    record's inclusion, rate the records again, and compare each line and total.

    Exit 0 when every check holds and every line matches, 1 when anything fails.
    """
    # Imported here: rating pulls in contracts and metering, which the log checks never need.
    from valueproof.billing.invoice_check import check_bundle

    keys = _trusted_keys(vkey)
    content = _read_bytes(bundle, "bundle")
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):
        raise InvalidInput("bundle", f"{bundle} is not JSON") from None
    # A bundle is 100k records or more, long-lived and free of reference cycles: the cyclic
    # collector would rescan them at every threshold of the check for nothing (half its time).
    gc.disable()
    try:
        report = check_bundle(document, keys)
    finally:
        gc.enable()
    if as_json:
        print_json(_report_json(report))
    else:
        for line in _report_lines(report):
            say(line)
    if not report.holds:
        raise typer.Exit(1)


def _report_lines(report: InvoiceReport) -> list[str]:
    """The report as a customer reads it: each line, each total, each failed check, a verdict."""
    start, end = report.period
    shown = [
        f"invoice {report.number} of account {report.account}, {start} to {end};"
        f" {report.records} records against the checkpoint of size {report.checkpoint_size}"
    ]
    for line in report.lines:
        name = f"line {line.position} {line.component} ({line.kind})"
        if line.matches:
            assert line.computed is not None
            quantity, amount = line.computed
            shown.append(f"{name}: matches, {quantity} -> {amount}")
        else:
            shown.append(
                f"{name}: DIFFERS, the invoice says {_pair(line.stated)},"
                f" re-computed {_pair(line.computed)}"
            )
        if line.rests_on:
            shown.append(f"  rests on stated, unproven inputs: {'; '.join(line.rests_on)}")
    for total in report.totals:
        if total.matches:
            shown.append(f"{total.name}: matches, {total.computed}")
        else:
            shown.append(
                f"{total.name}: DIFFERS, the invoice says {total.stated},"
                f" re-computed {total.computed}"
            )
    shown.extend(f"FAILED {failure.check}: {failure.detail}" for failure in report.failures)
    if report.holds:
        shown.append("verified: every check holds and every line matches")
    else:
        differing = sum(not line.matches for line in report.lines)
        differing += sum(not total.matches for total in report.totals)
        shown.append(
            f"NOT verified: {len(report.failures)} failed checks,"
            f" {differing} lines or totals differ"
        )
    return shown


def _pair(value: tuple[Any, Any] | None) -> str:
    return "no such line" if value is None else f"{value[0]} -> {value[1]}"


def _report_json(report: InvoiceReport) -> dict[str, Any]:
    def pair(value: tuple[Any, Any] | None) -> dict[str, str] | None:
        return None if value is None else {"quantity": str(value[0]), "amount": str(value[1])}

    return {
        "verified": report.holds,
        "number": report.number,
        "account": report.account,
        "period": {"start": report.period[0], "end": report.period[1]},
        "checkpoint_size": report.checkpoint_size,
        "records": report.records,
        "lines": [
            {
                "position": line.position,
                "component": line.component,
                "kind": line.kind,
                "matches": line.matches,
                "invoice": pair(line.stated),
                "computed": pair(line.computed),
                "rests_on": list(line.rests_on),
            }
            for line in report.lines
        ],
        "totals": [
            {
                "name": total.name,
                "matches": total.matches,
                "invoice": None if total.stated is None else str(total.stated),
                "computed": None if total.computed is None else str(total.computed),
            }
            for total in report.totals
        ],
        "failures": [{"check": f.check, "detail": f.detail} for f in report.failures],
    }


def _trusted_keys(values: list[str]) -> list[VerifierKey]:
    """The keys `--vkey` names, each given inline or as `@FILE` (one per line, # comments)."""
    texts: list[str] = []
    for value in values:
        if value.startswith("@"):
            lines = _read_text(Path(value[1:]), "vkey").splitlines()
            texts.extend(s for line in lines if (s := line.strip()) and not s.startswith("#"))
        else:
            texts.append(value.strip())
    if not texts:
        raise InvalidInput("vkey", "give at least one trusted verifier key")
    try:
        return [parse_vkey(text) for text in texts]
    except LedgerError as error:
        raise InvalidInput("vkey", str(error)) from None


def _note_file(path: Path) -> bytes:
    """A signed note from a file holding the note itself, or JSON with a "note"/"checkpoint"."""
    content = _read_bytes(path, str(path))
    if not content.lstrip().startswith(b"{"):
        return content
    try:
        document = json.loads(content)
    except (ValueError, RecursionError):
        raise InvalidInput(str(path), "is neither a signed note nor valid JSON") from None
    for name in ("note", "checkpoint"):
        if isinstance(document, dict) and isinstance(document.get(name), str):
            return str(document[name]).encode()
    raise InvalidInput(str(path), 'JSON without a "note" or "checkpoint" text field')


def _note_or_embedded(path: Path | None, embedded: str | None, option: str) -> bytes:
    if path is not None:
        return _note_file(path)
    if embedded is None:
        raise InvalidInput(option, f"the proof carries no checkpoint: give --{option} FILE")
    return embedded.encode()


def _parse_file(parse: Callable[[bytes], Parsed], path: Path, option: str) -> Parsed:
    try:
        return parse(_read_bytes(path, option))
    except LedgerError as error:
        raise InvalidInput(option, f"{path}: {error}") from None


def _state_checkpoint(path: Path | None) -> Checkpoint | None:
    """The checkpoint this tool verified last time (trusted: it wrote the file after checking)."""
    if path is None or not path.exists():
        return None
    try:
        return parse_checkpoint(parse_note(_read_bytes(path, "state")).text)
    except LedgerError as error:
        raise InvalidInput("state", f"{path} does not hold a signed checkpoint: {error}") from None


def _write_state(path: Path, note: str) -> None:
    """Replace the state file in one step, so an interrupted run leaves the old one whole."""
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.resolve().parent, prefix=f".{path.name}.", delete=False
        ) as stream:
            written = Path(stream.name)
            stream.write(note)
        written.replace(path)
    except OSError as error:
        raise InvalidInput("state", f"cannot write {path}: {error.strerror}") from None


def _read_bytes(path: Path, field: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidInput(field, f"cannot read {path}: {error.strerror}") from None


def _read_text(path: Path, field: str) -> str:
    try:
        return _read_bytes(path, field).decode()
    except UnicodeDecodeError:
        raise InvalidInput(field, f"{path} is not UTF-8 text") from None


def _report(as_json: bool, verified: Checkpoint, message: str, **extra: int | None) -> None:
    if as_json:
        print_json(
            {
                "verified": True,
                "origin": verified.origin,
                "size": verified.size,
                "root_hash": base64.b64encode(verified.root_hash).decode(),
                **extra,
            }
        )
    else:
        say(message)
