"""`valueproof verify`: a customer checks the vendor's signed checkpoints, proofs and whole log.

Needs no database and no server code, only `valueproof.ledger`'s verifier and the vendor's
verifier keys. Exit 0: verified; 1: verification failed; 2: the input files or options are bad.
"""

from __future__ import annotations

import base64
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

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
