"""`valueproof oracle keygen|sign|submit`: a data source's side, run by the customer.

A source keeps its Ed25519 key in a PEM file, signs readings offline, and submits them to the
vendor's API over HTTPS with an API key; none of this touches the database.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.client import HTTPException, HTTPMessage
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    KeySerializationEncryption,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from valueproof.batches import BATCH_STATUSES, BatchCounts
from valueproof.cli.output import (
    JsonFlag,
    batch_exit,
    print_json,
    print_table,
    say,
    warn,
)
from valueproof.errors import InvalidInput
from valueproof.outcomes.errors import ReadingRefused
from valueproof.outcomes.readings import (
    Reading,
    new_nonce,
    public_key_text,
    sign_reading,
    submission,
)
from valueproof.periods import parse_instant_field
from valueproof.strict_json import DuplicateKey, describe, loads_strict

_MAX_REPLY = 64 * 1024 * 1024
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
    counts = BatchCounts(*(answer[status] for status in BATCH_STATUSES))
    if batch_exit(counts):
        raise typer.Exit(batch_exit(counts))


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
    """One JSON document (a submission, `{"readings": [...]}` or a list), or JSON lines; a key
    named twice is refused, as the server would (here it would be lost in re-encoding)."""
    try:
        document = loads_strict(text)
    except DuplicateKey as error:
        raise InvalidInput("FILE", describe(error)) from None
    except json.JSONDecodeError:
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
        return loads_strict(line)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"line {number}", f"not JSON: {describe(error)}") from None


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
    counted = all(isinstance(answer.get(status), int) for status in BATCH_STATUSES)
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
