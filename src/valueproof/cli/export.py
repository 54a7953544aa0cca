"""`valueproof export KIND`: invoices, lines, credit notes, usage or the revenue schedule of a
range, as csv, jsonl or parquet, streamed to a file (`-o`) or stdout, with progress on stderr."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from valueproof.billing.errors import ExportInvalid
from valueproof.billing.exports import COLUMNS, Kind, export_batches, export_range
from valueproof.billing.formats import Format, Row, encode
from valueproof.cli.context import TenantOption, engine_of, tenant_of
from valueproof.cli.output import console, warn
from valueproof.periods import Granularity
from valueproof.store import read


def export(
    ctx: typer.Context,
    kind: Annotated[
        Kind, typer.Argument(metavar="KIND", help="What to export.", case_sensitive=False)
    ],
    start: Annotated[
        str,
        typer.Option(
            "--from", metavar="WHEN", help="Range start (inclusive): RFC 3339, or a date (UTC)."
        ),
    ],
    end: Annotated[
        str,
        typer.Option(
            "--to", metavar="WHEN", help="Range end (exclusive): RFC 3339, or a date (UTC)."
        ),
    ],
    fmt: Annotated[
        Format, typer.Option("--format", help="File format.", case_sensitive=False)
    ] = Format.CSV,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            dir_okay=False,
            help="Write here (replaced only once the export is whole); default: stdout.",
        ),
    ] = None,
    granularity: Annotated[
        Granularity,
        typer.Option(help="Usage buckets (usage only).", case_sensitive=False),
    ] = Granularity.DAY,
    tenant: TenantOption = None,
) -> None:
    """Export invoices, their lines, credit notes, usage or the revenue schedule of a range.

    Invoices, lines and the revenue schedule are chosen by their period's end, credit notes by
    when they were issued, usage by its buckets, all in [--from, --to). Parquet needs `-o`.
    """
    window = export_range(start, end)
    if fmt is Format.PARQUET and output is None:
        raise ExportInvalid("--output", "parquet is binary: name a file with -o")
    owner = tenant_of(ctx, tenant)
    engine = engine_of(ctx)
    now = datetime.now(UTC)
    with read(engine) as connection, _progress(kind) as (progress, task):

        def counted(batches: Iterable[list[Row]]) -> Iterator[list[Row]]:
            for batch in batches:
                progress.update(task, advance=len(batch))
                yield batch

        batches = export_batches(connection, owner.id, kind, window, granularity, now)
        chunks = encode(fmt, COLUMNS[kind], counted(batches))
        if output is None:
            _write(typer.get_binary_stream("stdout"), chunks)
        else:
            _write_file(output, chunks)
        rows = int(progress.tasks[0].completed)
    warn(f"exported {rows} rows of {kind.value} to {output or 'stdout'}")


def _write(stream: BinaryIO, chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        stream.write(chunk)
    stream.flush()


def _write_file(path: Path, chunks: Iterable[bytes]) -> None:
    """Write beside `path`, then put it in place: an export that fails leaves nothing behind."""
    descriptor, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            _write(stream, chunks)
        os.replace(scratch, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(scratch)
        raise


@contextlib.contextmanager
def _progress(kind: Kind) -> Iterator[tuple[Progress, TaskID]]:
    """Rows exported so far, on stderr; hidden when stderr is no terminal."""
    out = console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TimeElapsedColumn(),
        console=out,
        disable=not out.is_terminal,
    ) as progress:
        yield progress, progress.add_task(f"exporting {kind.value}", total=None)
