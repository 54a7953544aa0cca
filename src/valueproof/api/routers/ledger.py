"""The ledger's read API: C2SP tlog-tiles under `/tlog/{tenant}/`, and JSON conveniences.

Tiles and entry bundles never change once written at a width, so they are served as immutable and
cacheable; a static host or CDN can mirror them. Proofs come with the signed checkpoint they
lead to, so a customer verifies them with the vendor's public key alone.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import Connection, select

from valueproof.api.auth import engine_of, requires
from valueproof.errors import Forbidden, InvalidInput, NotFound
from valueproof.ledger import log, writes
from valueproof.ledger.keyring import Keyring, key_json, stored_keys
from valueproof.ledger.leaves import parse_leaf
from valueproof.ledger.merkle import leaf_hash
from valueproof.ledger.publish import checkpoint_at, checkpoint_json, latest_checkpoint
from valueproof.ledger.tiles import parse_path
from valueproof.metering.tables import events
from valueproof.store import read
from valueproof.tenancy.keys import Principal, Scope

router = APIRouter(tags=["ledger"])

# private: every tile and bundle needs a bearer key, so a shared cache must not hand one
# tenant's bundle to another caller (tlog-tiles' "public" assumes a public log)
_IMMUTABLE = "private, max-age=31536000, immutable"


_NO_CHECKPOINT: dict[int | str, dict[str, Any]] = {
    404: {"description": "No checkpoint has been signed yet."}
}


@router.get("/v1/ledger/checkpoint", responses=_NO_CHECKPOINT)
def get_checkpoint(
    request: Request, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """The latest signed checkpoint: the log's size and root, and the signed note."""
    with read(engine_of(request)) as connection:
        latest = latest_checkpoint(connection, who.tenant_id)
        size = log.log_size(connection, who.tenant_id)
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return {**checkpoint_json(latest), "log_size": size}


@router.post(
    "/v1/ledger/checkpoint", responses={409: {"description": "The tenant has no signing key."}}
)
def post_checkpoint(
    request: Request, who: Principal = Depends(requires(Scope.ADMIN))
) -> dict[str, Any]:
    """Sign a checkpoint of the log as it stands now."""
    keyring: Keyring = request.app.state.keyring
    return checkpoint_json(writes.sign_checkpoint(engine_of(request), who.tenant_id, keyring))


@router.get("/v1/ledger/keys")
def get_keys(request: Request, who: Principal = Depends(requires(Scope.READ))) -> dict[str, Any]:
    """Every checkpoint key the tenant has had, as signed-note verifier keys (vkeys)."""
    with read(engine_of(request)) as connection:
        keys = stored_keys(connection, who.tenant_id)
    return {"keys": [key_json(key) for key in keys]}


@router.get("/v1/ledger/entries/{index}")
def get_entry(
    request: Request, index: int, who: Principal = Depends(requires(Scope.READ))
) -> dict[str, Any]:
    """One leaf: its canonical bytes (base64), its hash, and the record it states."""
    with read(engine_of(request)) as connection:
        data = log.entry(connection, who.tenant_id, index)
    leaf = parse_leaf(data)
    return {
        "index": index,
        "leaf_hash": _b64(leaf_hash(data)),
        "entry": _b64(data),
        "record": {"type": leaf.record_type, "v": leaf.version, "record": leaf.record},
    }


@router.get(
    "/v1/ledger/proofs/inclusion",
    responses={404: {"description": "No such event, or no checkpoint to prove against."}},
)
def get_inclusion_proof(
    request: Request,
    index: int | None = Query(None, ge=0, description="Leaf index; or give event_id."),
    event_id: str | None = Query(None, description="A usage event's id, instead of its index."),
    size: int | None = Query(None, ge=1, description="Tree size; default the latest checkpoint."),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of a leaf in the tree of `size` leaves, with its checkpoint."""
    if (index is None) == (event_id is None):
        raise InvalidInput("index", "give exactly one of index and event_id")
    with read(engine_of(request)) as connection:
        if event_id is not None:
            index = _leaf_of_event(connection, who.tenant_id, event_id)
        assert index is not None
        size, checkpoint = _size_and_checkpoint(connection, who.tenant_id, size, "size")
        if index >= size:
            raise InvalidInput("index", f"leaf {index} is not in the tree of size {size}")
        hashes = log.inclusion_proof(connection, who.tenant_id, index, size)
        data = log.entry(connection, who.tenant_id, index)
    return {
        "index": index,
        "size": size,
        "leaf_hash": _b64(leaf_hash(data)),
        "hashes": [_b64(hashed) for hashed in hashes],
        "checkpoint": checkpoint,
    }


@router.get("/v1/ledger/proofs/consistency", responses=_NO_CHECKPOINT)
def get_consistency_proof(
    request: Request,
    old_size: int = Query(..., alias="from", ge=0, description="The smaller tree size."),
    new_size: int | None = Query(
        None, alias="to", ge=0, description="The larger tree size; default the latest checkpoint."
    ),
    who: Principal = Depends(requires(Scope.READ)),
) -> dict[str, Any]:
    """RFC 9162 proof that the tree of `from` leaves is a prefix of the tree of `to` leaves."""
    with read(engine_of(request)) as connection:
        new_size, new_note = _size_and_checkpoint(connection, who.tenant_id, new_size, "to")
        if old_size > new_size:
            raise InvalidInput("from", f"must not exceed to ({new_size})")
        hashes = log.consistency_proof(connection, who.tenant_id, old_size, new_size)
        old_note = _note_at(connection, who.tenant_id, old_size)
    return {
        "from": old_size,
        "to": new_size,
        "hashes": [_b64(hashed) for hashed in hashes],
        "old_checkpoint": old_note,
        "new_checkpoint": new_note,
    }


@router.get("/tlog/{tenant}/checkpoint")
@router.head("/tlog/{tenant}/checkpoint")
def get_tlog_checkpoint(
    request: Request, tenant: str, who: Principal = Depends(requires(Scope.READ))
) -> Response:
    """tlog-tiles: the latest checkpoint as a signed note."""
    _same_tenant(who, tenant)
    with read(engine_of(request)) as connection:
        latest = latest_checkpoint(connection, who.tenant_id)
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return Response(
        latest.note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


@router.get("/tlog/{tenant}/tile/{path:path}")
@router.head("/tlog/{tenant}/tile/{path:path}")
def get_tile(
    request: Request, tenant: str, path: str, who: Principal = Depends(requires(Scope.READ))
) -> Response:
    """tlog-tiles: a hash tile or an entry bundle, full or partial (`.p/W`).

    Entry bundles are JSON leaves and shrink several times under gzip, so they are sent
    compressed to a client that accepts it (a tlog-tiles SHOULD). Hash tiles are random bytes
    that gzip only grows: they are always sent as they are.
    """
    _same_tenant(who, tenant)
    address = parse_path(f"tile/{path}")
    with read(engine_of(request)) as connection:
        content = log.served_tile(connection, who.tenant_id, address)
    headers = {"Cache-Control": _IMMUTABLE}
    if address.is_entries:
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            # mtime 0: the same bundle is the same bytes every time, as an immutable tile must be
            content = gzip.compress(content, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(content, media_type="application/octet-stream", headers=headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header (RFC 9110 section 12.5.3) lets us answer in gzip."""
    chosen: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, parameters = item.strip().partition(";")
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        chosen[coding.strip().lower()] = weight
    gzip_weight = chosen.get("gzip", chosen.get("x-gzip", chosen.get("*", 0.0)))
    return gzip_weight > 0


def _same_tenant(who: Principal, tenant: str) -> None:
    if tenant != who.tenant_slug:
        raise Forbidden(f"this API key reads the log of {who.tenant_slug!r}, not {tenant!r}")


def _size_and_checkpoint(
    connection: Connection, tenant_id: int, size: int | None, field: str
) -> tuple[int, str | None]:
    """The tree size to prove against (default: the latest checkpoint's) and its signed note."""
    if size is None:
        latest = latest_checkpoint(connection, tenant_id)
        if latest is None:
            raise NotFound("no checkpoint has been signed yet; give the size explicitly")
        return latest.checkpoint.size, latest.note
    current = log.log_size(connection, tenant_id)
    if size > current:
        raise InvalidInput(field, f"the log holds {current} leaves, fewer than {size}")
    return size, _note_at(connection, tenant_id, size)


def _note_at(connection: Connection, tenant_id: int, size: int) -> str | None:
    try:
        return checkpoint_at(connection, tenant_id, size).note
    except NotFound:
        return None


def _leaf_of_event(connection: Connection, tenant_id: int, event_id: str) -> int:
    index = connection.execute(
        select(events.c.leaf_index).where(
            events.c.tenant_id == tenant_id, events.c.event_id == event_id
        )
    ).scalar()
    if index is None:
        raise NotFound(f"no event {event_id!r} on the ledger")
    return int(index)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
