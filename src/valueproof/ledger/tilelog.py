"""A tlog-tiles log read over HTTP: its checkpoint, hash tiles and entry bundles, with limits.

Part of the customer-side verifier: standard library and the other `valueproof.ledger` modules
only. It never sends the caller's headers (an API key) to another host, and caps every reply.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException, HTTPMessage
from typing import IO

from valueproof.ledger import merkle
from valueproof.ledger.errors import CheckpointError, LedgerError, LogFetchError, TileError
from valueproof.ledger.notes import MAX_NOTE_BYTES
from valueproof.ledger.tiles import (
    TILE_WIDTH,
    Tile,
    decode_bundle,
    entries_path,
    hash_location,
    tile_path,
    tile_width,
)

__all__ = ["LogFetchError", "TileLog"]

_MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 0xFFFF)
_HASH = merkle.HASH_SIZE


@dataclass(frozen=True, slots=True)
class TileLog:
    """A tlog-tiles log at `base_url`: its checkpoint, hash tiles and entry bundles over HTTP."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LedgerError(f"log URL {self.base_url!r} is not an http(s) URL")

    def checkpoint(self) -> str:
        """The log's current signed checkpoint, unverified."""
        body = self._get("checkpoint", MAX_NOTE_BYTES)
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise CheckpointError("the served checkpoint is not UTF-8") from None

    def tile(self, tile_level: int, tile_index: int, width: int) -> list[bytes]:
        """The base hashes of a hash tile, `width` of them."""
        try:
            body = self._get(tile_path(tile_level, tile_index, width), width * _HASH)
        except LogFetchError as error:
            # tlog-tiles: a log may delete a partial tile once the full one exists.
            if width == TILE_WIDTH or error.http_status != 404:
                raise
            body = self._get(tile_path(tile_level, tile_index), TILE_WIDTH * _HASH)[: width * _HASH]
        if len(body) != width * _HASH:
            raise TileError(
                f"tile {tile_level}/{tile_index} has {len(body)} bytes, not {width} hashes"
            )
        return [body[at : at + _HASH] for at in range(0, len(body), _HASH)]

    def entries(self, bundle_index: int, width: int) -> list[bytes]:
        """The entries of an entry bundle, `width` of them."""
        try:
            entries = decode_bundle(self._get(entries_path(bundle_index, width), _MAX_BUNDLE_BYTES))
        except LogFetchError as error:
            if width == TILE_WIDTH or error.http_status != 404:
                raise
            entries = decode_bundle(self._get(entries_path(bundle_index), _MAX_BUNDLE_BYTES))
            entries = entries[:width]
        if len(entries) != width:
            raise TileError(f"bundle {bundle_index} holds {len(entries)} entries, not {width}")
        return entries

    def hash_reader(self, size: int) -> merkle.HashReader:
        """A HashReader over the tree of `size` leaves, fetching each tile it needs once."""
        tiles: dict[tuple[int, int], Tile] = {}

        def read(coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
            hashes = []
            for level, index in coordinates:
                tile_level, tile_index, inner, position = hash_location(level, index)
                tile = tiles.get((tile_level, tile_index))
                if tile is None:
                    width = tile_width(tile_level, tile_index, size)
                    if width == 0:
                        raise TileError(f"node {level}/{index} is beyond a tree of size {size}")
                    tile = Tile.empty()
                    tile.extend(self.tile(tile_level, tile_index, width))
                    tiles[tile_level, tile_index] = tile
                row = tile.levels[inner]
                if position >= len(row):
                    raise TileError(f"node {level}/{index} is not complete at size {size}")
                hashes.append(row[position])
            return hashes

        return read

    def _get(self, path: str, limit: int) -> bytes:
        url = f"{self.base_url.rstrip('/')}/{path}"
        request = urllib.request.Request(
            url, headers={"Accept-Encoding": "gzip, identity", **self.headers}
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                encoding = response.headers.get("Content-Encoding", "identity").lower()
                # gzip grows incompressible data (hashes) by a few bytes per 16 KiB block.
                body: bytes = response.read(
                    limit + 1 + (limit // 64 + 64 if encoding == "gzip" else 0)
                )
        except urllib.error.HTTPError as error:
            error.close()
            status = f"HTTP {error.code} {error.reason}"
            raise LogFetchError(f"GET {url}: {status}", error.code) from None
        except (urllib.error.URLError, HTTPException, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise LogFetchError(f"GET {url}: {reason}") from None
        if encoding == "gzip":
            body = _gunzip(body, limit, url)
        elif encoding != "identity":
            raise LogFetchError(f"GET {url}: unsupported Content-Encoding {encoding!r}")
        if len(body) > limit:
            raise LogFetchError(f"GET {url}: the reply exceeds {limit} bytes")
        return body


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only within the log's origin, so the API key never reaches another host."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            fp.close()
            raise LogFetchError(f"GET {req.full_url}: redirected to another origin, {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects)


def _gunzip(body: bytes, limit: int, url: str) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        plain = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise LogFetchError(f"GET {url}: the gzip body is corrupt") from None
    if len(plain) > limit:
        raise LogFetchError(f"GET {url}: the reply exceeds {limit} bytes")
    if not inflater.eof:
        raise LogFetchError(f"GET {url}: the gzip body is truncated")
    return plain
