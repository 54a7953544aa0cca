"""`GET /v1/exports/{kind}`: invoices, lines, credit notes, usage or the revenue schedule of a
range, streamed as csv, jsonl or parquet (admin keys)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from valueproof.api.auth import engine_of, requires
from valueproof.billing.exports import COLUMNS, Kind, export_batches, export_range
from valueproof.billing.formats import MEDIA_TYPES, Format, encode
from valueproof.periods import Granularity
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["exports"])

_STREAMED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The rows, streamed in the format asked for (a header row first in csv).",
        "content": {
            MEDIA_TYPES[Format.CSV].partition(";")[0]: {"schema": {"type": "string"}},
            MEDIA_TYPES[Format.JSONL]: {"schema": {"type": "string"}},
            MEDIA_TYPES[Format.PARQUET]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.get("/v1/exports/{kind}", response_class=StreamingResponse, responses=_STREAMED)
def get_export(
    request: Request,
    kind: Kind,
    start: str = Query(
        ...,
        alias="from",
        description="RFC 3339 (or a date, midnight UTC): the range's start, inclusive.",
    ),
    end: str = Query(
        ...,
        alias="to",
        description="RFC 3339 (or a date, midnight UTC): the range's end, exclusive.",
    ),
    fmt: Format = Query(Format.CSV, alias="format"),
    granularity: Granularity = Query(Granularity.DAY, description="Usage buckets (usage only)."),
    who: Principal = Depends(requires(Scope.ADMIN)),
) -> StreamingResponse:
    window = export_range(start, end)  # refused before a byte is sent
    engine = engine_of(request)
    now = datetime.now(UTC)

    def stream() -> Iterator[bytes]:
        with read(engine) as connection:
            batches = export_batches(connection, who.tenant_id, kind, window, granularity, now)
            yield from encode(fmt, COLUMNS[kind], batches)

    span = "-".join(moment.strftime("%Y%m%dT%H%M%SZ") for moment in (window.start, window.end))
    name = f"{kind.value}-{span}.{fmt.value}"
    return StreamingResponse(
        stream(),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
