"""Tests for cli/main.py's lazy root: start-up (`--help`, `--version`) imports no command module and
no heavy library, no command module imports an analytics library before it is used, and the
listing `--help` shows without importing the commands is what each command says of itself."""

from __future__ import annotations

import inspect
import subprocess
import sys

import orjson
import pytest
import typer
from typer.core import TyperGroup

from valueproof.cli.main import COMMANDS, Listed, app

# Seconds to import each, paid at start-up by every command when they were imported eagerly.
HEAVY = ("statsmodels", "pandas", "scipy", "pyarrow", "polars", "weasyprint", "stripe")
COMMAND_MODULES = sorted({f"valueproof.cli.{entry.module}" for entry in COMMANDS})


def modules_after(code: str) -> set[str]:
    """The top-level and valueproof modules a fresh interpreter holds after running `code`."""
    report = "import sys, orjson; sys.stdout.write(orjson.dumps(sorted(sys.modules)).decode())"
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return set(orjson.loads(done.stdout.splitlines()[-1]))


def run_app(*args: str) -> str:
    """Code that runs the CLI in-process on `args` (it ends in SystemExit, as from a shell)."""
    return (
        "from valueproof.cli.main import app\n"
        "try:\n"
        f"    app({list(args)!r}, prog_name='valueproof')\n"
        "except SystemExit:\n"
        "    pass\n"
    )


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import valueproof.cli.main", id="import"),
        pytest.param(run_app("--help"), id="--help"),
        pytest.param(run_app("--version"), id="--version"),
        pytest.param(run_app(), id="no arguments"),
    ],
)
def test_start_up_imports_no_command_and_no_heavy_library(code: str) -> None:
    loaded = modules_after(code)
    assert "valueproof.cli.main" in loaded
    assert not {name for name in HEAVY if name in loaded}
    assert not {name for name in COMMAND_MODULES if name in loaded}
    assert "sqlalchemy" not in loaded


def test_command_modules_import_no_analytics_library_until_used() -> None:
    loaded = modules_after("\n".join(f"import {name}" for name in COMMAND_MODULES))
    assert set(COMMAND_MODULES) <= loaded
    assert not {name for name in HEAVY if name in loaded}


def test_a_command_imports_its_own_module_only() -> None:
    loaded = modules_after(run_app("--database-url", "sqlite://", "usage", "--help"))
    assert "valueproof.cli.usage" in loaded
    assert not {name for name in COMMAND_MODULES if name in loaded} - {"valueproof.cli.usage"}


def test_listing_is_the_first_paragraph_of_each_commands_help() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    assert list(root.commands) == [entry.name for entry in COMMANDS]
    for name, listed in root.commands.items():
        assert isinstance(listed, Listed)
        command = listed.load()
        assert command.name == name
        first = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
        assert listed.help == first, name
