"""Every shell example in docs/*.md runs as written, in the order the page gives it.

Each page is one reader's session: a scratch folder holding the sample files of `docs/examples/`
(the files the page names), a scratch SQLite database, and one bash shell, so `KEY=$(...)` on one
line is `$KEY` on a later one. A command passes when it exits 0 and prints every line the page
shows for it (volatile values such as times, key ids, keys and signatures aside; `...` stands for
lines left out); when the page shows it answering `error: ...`, when it fails with those errors
on stderr; and when the page's next command is `echo $?`, when it exits with the status that
shows. `valueproof serve` is started on a loopback port instead of the address the page gives,
and the page's example hosts (`https://billing.example.com`, `https://vendor.example`) are that
server; `SETUP` says what a page assumes its reader already has.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
BIN = Path(sys.executable).parent
HOSTS = ("https://billing.example.com", "https://vendor.example", "http://127.0.0.1:8000")
LEFT_OUT = ("valueproof serve", "pip install")  # runs until stopped; installs from PyPI
PASSPHRASE = "docs-example-passphrase"

# What differs from one run to the next (times, key ids, keys, signatures, nonces, speed), which a
# page may show with other values; everything else it shows must be what the command printed.
VOLATILE = re.compile(
    r"sqlite:///\S+"
    r"|[A-Za-z0-9+/_-]+\.\.\.[A-Za-z0-9+/_-]+={0,2}"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
    r"|\b[0-9a-f]{8,16}\b"
    r"|[A-Za-z0-9+/_-]{20,}={0,2}"
    r"|\d+(\.\d+)? s \(\d+ events/s\)"
)

# What a page assumes its reader has done before its first example (the setup is itself
# made of documented commands).
SETUP = {
    "contracts.md": [
        "valueproof tenant create acme",
        "valueproof meters apply examples-meters.yaml --tenant acme",
        'valueproof accounts create globex --name "Globex" --tenant acme',
    ],
    "ledger.md": [
        "valueproof tenant create acme",
        "valueproof meters apply examples-meters.yaml --tenant acme",
        'valueproof accounts create globex --name "Globex" --tenant acme',
        "valueproof ingest usage.jsonl --tenant acme",
    ],
    "billing.md": [
        "valueproof tenant create acme",
        "valueproof meters apply examples-meters.yaml --tenant acme",
        'valueproof accounts create globex --name "Globex" --tenant acme',
        "valueproof ingest usage.jsonl --tenant acme",
    ],
    "oracles.md": ["valueproof tenant create acme"],
    "outcomes.md": ["valueproof tenant create acme"],
    # A log of 8 entries whose first 7 the customer verified in January (cp-january.txt).
    "verify.md": [
        "valueproof tenant create acme",
        "valueproof meters apply examples-meters.yaml --tenant acme",
        'valueproof accounts create globex --name "Globex" --tenant acme',
        "VKEY=$(valueproof ledger keygen --tenant acme)",
        "KEY=$(valueproof apikey create --tenant acme --scopes read)",
        "valueproof ingest usage.jsonl --tenant acme",
        "valueproof ledger checkpoint --tenant acme",
        'curl -fsS -H "Authorization: Bearer $KEY" https://vendor.example/tlog/acme/checkpoint'
        " > cp-january.txt",
        "valueproof contract apply globex-2026.yaml --tenant acme",
        "valueproof ledger checkpoint --tenant acme",
    ],
}


@dataclass(frozen=True)
class Example:
    """One command of a page, with the answer the page shows for it."""

    page: str
    line: int
    command: str
    shown: str

    @property
    def shows_an_error(self) -> bool:
        return self.shown.startswith("error:")

    @property
    def shows_a_status(self) -> str | None:
        """The exit status an `echo $?` step shows for the step before it."""
        if self.command.strip() == "echo $?" and self.shown.isdigit():
            return self.shown
        return None


def examples(page: Path) -> list[Example]:
    """The commands of a page's ```console blocks (after `$ `) and ```sh blocks, in order."""
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        fence = lines[number].strip()
        number += 1
        if fence not in ("```console", "```sh"):
            continue
        body = []
        while number < len(lines) and lines[number].strip() != "```":
            body.append((number + 1, lines[number]))
            number += 1
        found.extend(_block(page.name, body, prompt=fence == "```console"))
    return found


def _block(page: str, body: list[tuple[int, str]], *, prompt: bool) -> Iterator[Example]:
    command: list[str] = []
    shown: list[str] = []
    start = 0
    for number, text in body:
        if command and command[-1].endswith("\\"):
            command.append(text)
            continue
        if prompt:
            starts = text.startswith("$ ")
        else:
            starts = bool(text.strip()) and not text.lstrip().startswith("#")
        if starts:
            if command:
                yield Example(page, start, "\n".join(command), "\n".join(shown).strip())
            command, shown, start = [text[2:] if prompt else text], [], number
        else:
            shown.append(text)
    if command:
        yield Example(page, start, "\n".join(command), "\n".join(shown).strip())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(folder: Path, env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "valueproof"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("valueproof serve did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


PAGES = sorted(page for page in DOCS.glob("*.md") if examples(page))


def test_every_page_with_commands_is_run() -> None:
    names = {page.name for page in PAGES}
    assert {"cli.md", "contracts.md", "ledger.md", "oracles.md", "verify.md"} <= names
    assert set(SETUP) <= names


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_the_page_runs_as_written(page: Path, tmp_path: Path) -> None:
    folder = tmp_path / "reader"
    shutil.copytree(EXAMPLES, folder)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "VALUEPROOF_DATABASE_URL": f"sqlite:///{tmp_path / 'docs.db'}",
        "VALUEPROOF_LEDGER_PASSPHRASE": PASSPHRASE,
        "VALUEPROOF_LEDGER_ORIGIN": "vendor.example",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    steps = [Example(page.name, 0, line, "") for line in SETUP.get(page.name, [])]
    steps += [step for step in examples(page) if not step.command.startswith(LEFT_OUT)]
    subprocess.run([str(BIN / "valueproof"), "db", "upgrade"], env=env, check=True, cwd=folder)
    with _server(folder, env) as url:
        failures = _run(steps, folder, env, url)
    assert not failures, "\n\n".join(failures)


def _run(steps: list[Example], folder: Path, env: dict[str, str], url: str) -> list[str]:
    """Run the steps in one bash shell; a failure message for each step that did not pass."""
    script = ["set -u"]
    for index, step in enumerate(steps):
        command = step.command
        for host in HOSTS:
            command = command.replace(host, url)
        # `(exit $code)` hands the step's status on, so that a page's `echo $?` shows it.
        script.append(
            f"{{ {command}\n}} >out.{index} 2>err.{index}; "
            f"code=$?; echo $code >rc.{index}; (exit $code)"
        )
    subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    failures = []
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        status = following.shows_a_status if following is not None else None
        code = (folder / f"rc.{index}").read_text().strip()
        out = (folder / f"out.{index}").read_text()
        err = (folder / f"err.{index}").read_text()
        problem = _problem(step, status, code, out, err)
        if problem:
            where = f"{step.page}:{step.line}" if step.line else f"{step.page} (setup)"
            failures.append(f"{where}: $ {step.command}\nexit {code}\n{out}{err}\n({problem})")
    return failures


def _problem(step: Example, status: str | None, code: str, out: str, err: str) -> str | None:
    """Why a step that exited with `code` and printed `out` and `err` did not do what its page
    shows (`status`: the exit status the page's next step shows for it), or None."""
    if step.shows_a_status is not None:
        return None if out.strip() == step.shown else f"the page shows {step.shown}"
    if step.shows_an_error:
        if code == "0":
            return "the page shows an error"
        missing = _not_printed(step.shown, err)
    elif code != (status or "0"):
        return f"the page shows exit {status or 0}"
    else:
        missing = _not_printed(step.shown, out + err)
    return f"the page shows, and it did not print: {missing}" if missing else None


def _masked(line: str) -> str:
    line = VOLATILE.sub("~", line)
    return re.sub(r"[ ━─]+", " ", line).strip()


def _not_printed(shown: str, printed: str) -> str | None:
    """The first line the page shows that the command did not print, volatile values aside."""
    lines = {_masked(line) for line in printed.splitlines()}
    for line in shown.splitlines():
        if line.strip() not in ("", "...") and _masked(line) not in lines:
            return line
    return None


# The sample files a page shows whole: each must be the document the page shows.
SHOWN_FILES = [
    ("cli.md", "catalog.yaml"),
    ("contracts.md", "globex-2026.yaml"),
    ("oracles.md", "oracles.yaml"),
    ("outcomes.md", "qualified_lead.yaml"),
]


@pytest.mark.parametrize(("page", "name"), SHOWN_FILES)
def test_a_sample_file_is_the_document_its_page_shows(page: str, name: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    shown = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]
    assert yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8")) in shown


def test_a_step_passes_only_when_it_does_what_its_page_shows() -> None:
    counts = Example("p.md", 1, "valueproof outcomes claim leads.jsonl", "accepted 60\n...")
    assert _problem(counts, None, "0", "accepted 60\nrefused 40\n", "") is None
    assert _problem(counts, None, "0", "accepted 61\n", "") is not None
    assert _problem(counts, None, "1", "accepted 60\n", "") is not None
    assert _problem(counts, "1", "1", "accepted 60\n", "") is None
    assert _problem(counts, "1", "0", "accepted 60\n", "") is not None
    errors = Example("p.md", 1, "valueproof contract validate x.yaml", "error: a: b\nerror: c: d")
    assert _problem(errors, None, "2", "", "error: a: b\nerror: c: d\n") is None
    assert _problem(errors, None, "2", "", "error: a: b\n") is not None
    assert _problem(errors, None, "0", "", "error: a: b\nerror: c: d\n") is not None
    status = Example("p.md", 2, "echo $?", "1")
    assert _problem(status, None, "0", "1\n", "") is None
    assert _problem(status, None, "0", "0\n", "") is not None


def test_volatile_values_may_differ_and_nothing_else() -> None:
    shown = "API key 3f9c2a7d1e0b4c65 for tenant acme, applied 2026-11-23T15:44:51.510210Z"
    printed = "API key 0b1e4c65d2f9a7c3 for tenant acme, applied 2026-12-07T21:30:43.309649Z"
    assert _not_printed(shown, printed) is None
    assert _not_printed(shown, printed.replace("acme", "demo")) == shown
    assert (
        _not_printed('{"signature":"UQ+xkbZV...QU/fBQ=="}', '{"signature":"' + "A" * 86 + '=="}')
        is None
    )


def test_a_page_is_read_as_commands_with_what_each_shows(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ KEY=$(make key)\nkey made\n"
        "$ curl -d x \\\n    http://h\nok\n$ echo $?\n0\n```\n",
        encoding="utf-8",
    )
    found = examples(page)
    assert [(step.command, step.shown) for step in found] == [
        ("KEY=$(make key)", "key made"),
        ("curl -d x \\\n    http://h", "ok"),
        ("echo $?", "0"),
    ]
    assert found[2].shows_a_status == "0" and found[0].shows_a_status is None
