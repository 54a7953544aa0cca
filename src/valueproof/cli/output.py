"""What the CLI prints: Rich tables for people, JSON for scripts, and the one place where our
errors become a line on stderr and an exit code."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Annotated, Any, Final

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from valueproof.batches import BatchCounts, batch_http_status
from valueproof.errors import AlreadyExists, Conflict, InvalidInput, NotFound, ValueproofError

EXIT_OK = 0
EXIT_FAILED = 1  # some items of an input were rejected or in conflict; other errors of ours
EXIT_INVALID = 2  # bad usage or input (Click uses 2 for usage errors too)
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4

# Piped output goes to scripts and logs, not a terminal: don't wrap tables at 80 columns.
_PIPE_WIDTH = 200

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

# Help texts are Markdown: paragraphs wrap to the terminal, `code` stands out.
MARKUP: Final = "markdown"


def command_group(help_text: str) -> typer.Typer:
    """A Typer app for one domain's commands, showing its help when called without one."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=MARKUP)


def exit_code(error: ValueproofError) -> int:
    """The exit code that tells a script what kind of error this was."""
    if isinstance(error, InvalidInput):
        return EXIT_INVALID
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, AlreadyExists | Conflict):
        return EXIT_CONFLICT
    return EXIT_FAILED


def batch_exit(counts: BatchCounts) -> int:
    """A batch command's exit code, by the API's rule: 0 where the API answers 200 (every item
    on record); 1 where it answers 207 or 422 (some or all items not taken; the others stay)."""
    return EXIT_OK if batch_http_status(counts) == 200 else EXIT_FAILED


class ErrorMappingGroup(TyperGroup):
    """The root command: every error of ours raised below it ends here, as one line on stderr
    (`error: <field>: <reason>` for invalid input) and its exit code, never a traceback."""

    # `ctx` is a context of the Click that Typer vendors (private), hence Any.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ValueproofError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(exit_code(error)) from None


def console(stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr), wide when it is not a terminal."""
    out = Console(stderr=stderr, highlight=False)
    if not out.is_terminal:
        out.width = _PIPE_WIDTH
    return out


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    title: str | None = None,
    numeric: Collection[str] = (),
) -> None:
    """Print rows under column headings (and a title line); cells are plain text, never markup."""
    if title is not None:
        say(title)
    table = Table()
    for name in columns:
        table.add_column(name, justify="right" if name in numeric else "left")
    for row in rows:
        table.add_row(*(Text(cell_text(cell)) for cell in row))
    console().print(table)


def cell_text(value: object) -> str:
    """How one value reads in a table cell: nothing for None, compact JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def print_json(document: Any) -> None:
    """Print a JSON document, indented, on stdout."""
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


def say(message: str) -> None:
    """A line for the operator on stdout."""
    typer.echo(message)


def warn(message: str) -> None:
    """A line for the operator on stderr, kept apart from output meant for scripts."""
    typer.echo(message, err=True)
