"""The README's command-line examples run as written, against a scratch SQLite database, in a
fresh process each, from the repository root (so `examples/` resolves) with the installed
`valueproof` command. `valueproof serve` is left out: it serves until stopped (the HTTP and
dashboard tests start the same app on loopback), and so are the curl examples that need it
(tests/api sends the same requests). tests/test_docs.py runs the examples of docs/*.md."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMMAND = Path(sys.executable).parent / "valueproof"
LEFT_OUT = ("valueproof serve",)  # runs until stopped


def shell_blocks(text: str) -> list[list[str]]:
    """The command lines of each ```sh block that runs `valueproof` (comments dropped)."""
    blocks = []
    for body in re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL):
        lines = [line.split("  #")[0].strip() for line in body.splitlines()]
        commands = [line for line in lines if line and not line.startswith("#")]
        if commands and all(c.startswith(("valueproof ", "export ")) for c in commands):
            blocks.append(commands)
    return blocks


def test_the_readme_has_the_blocks_this_test_runs() -> None:
    blocks = shell_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 3  # "Using it", the contracts, then the invoices
    assert any(line.startswith("valueproof contract apply") for line in blocks[1])
    assert any(line.startswith("valueproof billing close") for line in blocks[2])


def test_the_readme_examples_run_as_written(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VALUEPROOF_DATABASE_URL": f"sqlite:///{tmp_path / 'readme.db'}",
        "NO_COLOR": "1",
    }
    ran = []
    for command in [c for block in shell_blocks(README.read_text("utf-8")) for c in block]:
        if command.startswith(LEFT_OUT):
            continue
        words = shlex.split(command)
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        done = subprocess.run(
            [str(COMMAND), *words[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        ran.append((command, done.stdout))
    outputs = dict(ran)
    usage = next(out for cmd, out in ran if cmd.startswith("valueproof usage"))
    # the days of examples/usage.jsonl: 120 messages on 2 November, 40 on the 3rd, 75 on the 10th
    rows = [line.split("│") for line in usage.splitlines() if line.startswith("│")]
    days = {cells[1].strip()[:10]: cells[-2].strip() for cells in rows}
    assert days == {"2026-11-02": "120", "2026-11-03": "40", "2026-11-10": "75"}
    keygen = outputs["valueproof ledger keygen --tenant acme"]
    assert keygen.count("\n") == 1 and "+" in keygen  # the verifier key alone
    preview = outputs["valueproof preview globex --tenant acme"]
    assert "platform" in preview and "api" in preview
    # globex's contract runs from January 2026: every month whose grace has passed is invoiced
    closed = outputs["valueproof billing close --tenant acme"]
    assert "invoices finalized: INV-" in closed
    listed = outputs["valueproof billing list --tenant acme"]
    assert "finalized" in listed and "globex" in listed


@pytest.mark.parametrize("name", ["meters.yaml", "usage.jsonl", "globex-2026.yaml"])
def test_the_files_the_readme_names_are_shipped(name: str) -> None:
    assert (ROOT / "examples" / name).is_file()
    assert f"examples/{name}" in README.read_text(encoding="utf-8")
