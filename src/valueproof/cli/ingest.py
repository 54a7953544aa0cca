"""`valueproof ingest FILE`: stream an events file through the one ingest path, chunk by chunk.

Each chunk commits before the next is read, so an interrupted run keeps what it acknowledged
and a re-run reports those items as duplicates.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import Engine

from valueproof.batches import BatchCounts
from valueproof.cli.context import TenantOption, file_argument, invocation, keyring_of, tenant_of
from valueproof.cli.output import (
    JsonFlag,
    batch_exit,
    console,
    print_json,
    print_table,
    say,
    warn,
)
from valueproof.errors import InvalidInput, ValueproofError
from valueproof.ledger.publish import CheckpointPolicy
from valueproof.metering.formats import (
    MAX_DECOMPRESSED_BYTES,
    MAX_LINE_BYTES,
    ReadLimits,
    read_events_file,
    sniff_format,
)
from valueproof.metering.ingest import (
    IngestOptions,
    ItemResult,
    ingest_stream,
    result_json,
)

PROBLEMS_SHOWN = 20


class FileFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


@dataclass(slots=True)
class IngestRun:
    """What the command keeps of a run: items acknowledged so far and the first problems."""

    acknowledged: int = 0
    problems: list[ItemResult] = field(default_factory=list)

    def record(self, results: list[ItemResult]) -> None:
        self.acknowledged += len(results)
        room = PROBLEMS_SHOWN - len(self.problems)
        if room > 0:
            found = [r for r in results if r.status in ("rejected", "conflict")]
            self.problems.extend(found[:room])


class AckLog:
    """The `--acks` file: one line with the running item count per committed chunk, on disk
    (flushed and fsynced) before the next chunk is read."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def acknowledge(self, items_so_far: int) -> None:
        if self._stream is None:
            return
        try:
            self._stream.write(f"{items_so_far}\n")
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as error:
            raise ValueproofError(f"cannot write the acks file: {error}") from None


@contextmanager
def open_ack_log(path: Path | None) -> Iterator[AckLog]:
    """An AckLog appending to `path`, or one that records nothing."""
    if path is None:
        yield AckLog(None)
        return
    try:
        stream = path.open("a", encoding="ascii")
    except OSError as error:
        raise InvalidInput("--acks", f"cannot open {str(path)!r}: {error.strerror}") from None
    with stream:
        yield AckLog(stream)


def ingest(
    ctx: typer.Context,
    path: Annotated[Path, file_argument("Events as JSONL, CSV (either may be .gz) or Parquet.")],
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="The file's format (default: from its suffix)."),
    ] = None,
    tenant: TenantOption = None,
    chunk: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Events per transaction (default: VALUEPROOF_INGEST_CHUNK_EVENTS, else 5000).",
            show_default=False,
        ),
    ] = None,
    acks: Annotated[
        Path | None,
        typer.Option(
            metavar="ACKFILE",
            dir_okay=False,
            help="Append the running item count to this file after each chunk commits.",
        ),
    ] = None,
    max_line_bytes: Annotated[
        int,
        typer.Option(min=1, help="A longer line (CSV: row line) is rejected unread."),
    ] = MAX_LINE_BYTES,
    max_decompressed_bytes: Annotated[
        int,
        typer.Option(min=1, help="A .gz file inflating past this stops the run (exit 2)."),
    ] = MAX_DECOMPRESSED_BYTES,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Ingest an events file, one transaction per chunk, and report every item's outcome.

    A bad line or row is rejected with its location and reason and the run goes on.
    Exit 0: every item is on record (accepted or duplicate); 1: some were rejected or in
    conflict; 2: bad usage or an unreadable file (chunks committed before it stay)."""
    here = invocation(ctx)
    fmt = sniff_format(path) if file_format is None else file_format.value
    options = IngestOptions(
        max_future_us=here.config.max_future_seconds * 1_000_000,
        strings_as_values=fmt == "csv",
        checkpoints=CheckpointPolicy.from_settings(keyring_of(ctx), here.config),
    )
    owner = tenant_of(ctx, tenant)
    run = IngestRun()
    started = time.perf_counter()
    try:
        summary = _ingest_file(
            FileIngest(
                here.engine,
                owner.id,
                path,
                fmt,
                chunk or here.config.ingest_chunk_events,
                ReadLimits(max_line_bytes, max_decompressed_bytes),
            ),
            options,
            run,
            acks,
            hidden=quiet or as_json,
        )
    except (OSError, EOFError, zlib.error) as error:
        _note_acknowledged(run)
        raise InvalidInput("path", f"reading {path.name} failed: {error}") from None
    except ValueproofError:
        _note_acknowledged(run)
        raise
    elapsed = time.perf_counter() - started
    report = _report(path, owner.slug, summary, run, elapsed)
    if as_json:
        print_json(report)
    else:
        _print_report(report)
    if batch_exit(summary):
        raise typer.Exit(batch_exit(summary))


@dataclass(frozen=True, slots=True)
class FileIngest:
    """Which file goes into which tenant, in chunks of how many events."""

    engine: Engine
    tenant_id: int
    path: Path
    fmt: str
    chunk: int
    limits: ReadLimits


def _ingest_file(
    job: FileIngest, options: IngestOptions, run: IngestRun, acks: Path | None, hidden: bool
) -> BatchCounts:
    """Stream the file through ingest, recording each committed chunk in `run` and the acks."""
    with open_ack_log(acks) as ack_log, _progress(job.path, hidden) as (progress, task):

        def on_chunk(results: list[ItemResult]) -> None:
            run.record(results)
            ack_log.acknowledge(run.acknowledged)
            progress.update(task, items=run.acknowledged)

        items = read_events_file(
            job.path,
            job.fmt,
            on_bytes=lambda done: progress.update(task, completed=done),
            limits=job.limits,
        )
        return ingest_stream(job.engine, job.tenant_id, items, job.chunk, options, on_chunk)


@contextmanager
def _progress(path: Path, hidden: bool) -> Iterator[tuple[Progress, TaskID]]:
    """A progress bar over the file's bytes; hidden when asked or when stdout is no terminal."""
    out = console()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[items]} items"),
        TimeElapsedColumn(),
        console=out,
        disable=hidden or not out.is_terminal,
    ) as progress:
        task = progress.add_task(path.name, total=path.stat().st_size, items=0)
        yield progress, task


def _note_acknowledged(run: IngestRun) -> None:
    if run.acknowledged:
        warn(f"{run.acknowledged} items were acknowledged before the error; they stay on record")


def _report(
    path: Path, tenant: str, summary: BatchCounts, run: IngestRun, elapsed: float
) -> dict[str, Any]:
    return {
        "file": str(path),
        "tenant": tenant,
        "items": summary.total,
        **summary.as_json(),
        "elapsed_seconds": round(elapsed, 3),
        "events_per_second": round(summary.total / elapsed, 1) if elapsed > 0 else None,
        "problems": [_problem_json(result) for result in run.problems],
    }


def _problem_json(result: ItemResult) -> dict[str, Any]:
    """An item's outcome as the API gives it, numbered by its place in the file (from 1)."""
    answer = result_json(result)
    del answer["index"]
    return {"item": result.index + 1, **answer}


def _print_report(report: dict[str, Any]) -> None:
    say(
        f"{report['items']} items from {report['file']} into tenant {report['tenant']} "
        f"in {report['elapsed_seconds']:.2f} s ({report['events_per_second'] or 0:,.0f} events/s)"
    )
    say(
        f"accepted {report['accepted']}, duplicate {report['duplicate']}, "
        f"conflict {report['conflict']}, rejected {report['rejected']}"
    )
    problems = report["problems"]
    if not problems:
        return
    shown = len(problems)
    total = report["conflict"] + report["rejected"]
    title = f"first {shown} of {total} problems" if total > shown else "problems"
    rows = [
        (p["item"], p.get("location"), p["id"], p["status"], e["field"], e["reason"])
        for p in problems
        for e in p.get("errors", [{"field": "", "reason": ""}])
    ]
    print_table(
        ["item", "location", "id", "status", "field", "reason"], rows, title=title, numeric={"item"}
    )
