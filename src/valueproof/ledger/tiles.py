"""C2SP tlog-tiles: tile coordinates and paths, entry bundles, and how appends grow the tiles.

A tile at tile level L, index N holds up to 256 hashes of tree level 8L: nodes N*256 onward. The
log keeps each tile with its seven inner levels (tree levels 8L+1 .. 8L+7) so that every stored
hash is one lookup; what it serves is the tile's base level, exactly as the spec defines it.
Standard library only: the customer-side verifier reads tiles with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from valueproof.ledger.errors import TileError
from valueproof.ledger.merkle import HASH_SIZE, node_hash

__all__ = [
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileAddress",
    "bundle_entries",
    "decode_bundle",
    "entries_path",
    "grow",
    "hash_location",
    "parse_path",
    "tile_path",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_BYTES = 0xFFFF  # tlog-tiles: each bundled entry is prefixed by a big-endian uint16 length
MAX_TILE_LEVEL = 63  # tlog-tiles: <L> is a decimal integer from 0 to 63
MAX_INDEX = (1 << 64) - 1  # tree sizes are uint64, so no tile or bundle index goes beyond this


@dataclass(frozen=True, slots=True)
class TileAddress:
    """A tile: `level` is the tile level (or -1 for an entry bundle), `width` 1 to 256."""

    level: int
    index: int
    width: int

    @property
    def is_entries(self) -> bool:
        return self.level < 0

    @property
    def path(self) -> str:
        if self.is_entries:
            return entries_path(self.index, self.width)
        return tile_path(self.level, self.index, self.width)


@dataclass(slots=True)
class Tile:
    """A tile's hashes by inner level: levels[r] holds the complete nodes of tree level 8L + r."""

    levels: list[list[bytes]]

    @classmethod
    def empty(cls) -> Tile:
        return cls([[] for _ in range(TILE_HEIGHT)])

    @classmethod
    def unpack(cls, blob: bytes, width: int) -> Tile:
        """A tile stored by `pack`: its inner levels one after the other, base first."""
        levels, offset = [], 0
        for inner in range(TILE_HEIGHT):
            count = width >> inner
            end = offset + count * HASH_SIZE
            levels.append([blob[at : at + HASH_SIZE] for at in range(offset, end, HASH_SIZE)])
            offset = end
        if offset != len(blob):
            raise TileError(f"stored tile of width {width} has {len(blob)} bytes, not {offset}")
        return cls(levels)

    @property
    def width(self) -> int:
        return len(self.levels[0])

    def pack(self) -> bytes:
        return b"".join(b"".join(level) for level in self.levels)

    def served(self) -> bytes:
        """The tile as tlog-tiles serves it: its base hashes, concatenated."""
        return b"".join(self.levels[0])

    def extend(self, hashes: Sequence[bytes]) -> None:
        """Append base hashes and compute every inner node they complete."""
        self.levels[0].extend(hashes)
        for inner in range(1, TILE_HEIGHT):
            below, level = self.levels[inner - 1], self.levels[inner]
            for at in range(2 * len(level), len(below) - 1, 2):
                level.append(node_hash(below[at], below[at + 1]))

    def root(self) -> bytes:
        """The hash of a full tile's subtree: the node of tree level 8(L+1) it stands for."""
        top = self.levels[TILE_HEIGHT - 1]
        if len(top) != 2:
            raise TileError("only a full tile has a root")
        return node_hash(top[0], top[1])


def hash_location(level: int, index: int) -> tuple[int, int, int, int]:
    """Where stored hash (level, index) lives: (tile level, tile index, inner level, position)."""
    tile_level, inner = divmod(level, TILE_HEIGHT)
    per_tile = TILE_WIDTH >> inner
    return tile_level, index // per_tile, inner, index % per_tile


def tile_width(tile_level: int, tile_index: int, size: int) -> int:
    """How many base hashes tile (tile_level, tile_index) holds in a tree of `size` leaves."""
    nodes = size >> (TILE_HEIGHT * tile_level)
    return max(0, min(TILE_WIDTH, nodes - tile_index * TILE_WIDTH))


def grow(
    size: int, leaf_hashes: Sequence[bytes], load: Callable[[int, int], Tile]
) -> dict[tuple[int, int], Tile]:
    """The tiles that change when these leaves are appended to a tree of `size` leaves.

    `load(tile_level, tile_index)` returns a partial tile already stored. Each full tile's root
    becomes a base hash one tile level up, so a batch touches O(batch/256 + log n) tiles.
    """
    changed: dict[tuple[int, int], Tile] = {}
    incoming, tile_level = list(leaf_hashes), 0
    while incoming:
        before = size >> (TILE_HEIGHT * tile_level)  # nodes of this tile level already stored
        roots: list[bytes] = []
        taken = 0
        while taken < len(incoming):
            position = before + taken
            tile_index, offset = divmod(position, TILE_WIDTH)
            key = (tile_level, tile_index)
            if key in changed:  # a Tile may be empty, so no `changed.get(key) or ...`
                tile = changed[key]
            elif offset:
                tile = load(*key)
            else:
                tile = Tile.empty()
            if tile.width != offset:
                raise TileError(
                    f"tile {tile_level}/{tile_index} holds {tile.width} hashes, expected {offset}"
                )
            chunk = incoming[taken : taken + TILE_WIDTH - offset]
            tile.extend(chunk)
            changed[key] = tile
            taken += len(chunk)
            if tile.width == TILE_WIDTH:
                roots.append(tile.root())
        incoming, tile_level = roots, tile_level + 1
    return changed


def tile_path(tile_level: int, tile_index: int, width: int = TILE_WIDTH) -> str:
    """`tile/<L>/<N>[.p/<W>]`, with N in three-digit groups prefixed by x (tlog-tiles)."""
    if not 0 <= tile_level <= MAX_TILE_LEVEL:
        raise TileError(f"tile level {tile_level} must be 0 to {MAX_TILE_LEVEL}")
    return f"tile/{tile_level}/{_encode_index(tile_index)}{_partial(width)}"


def entries_path(bundle_index: int, width: int = TILE_WIDTH) -> str:
    """`tile/entries/<N>[.p/<W>]`."""
    return f"tile/entries/{_encode_index(bundle_index)}{_partial(width)}"


# At most seven digit groups (2**64 has 20 digits) and three width digits, so int() stays cheap.
_PATH = re.compile(
    r"tile/(?P<level>entries|\d{1,2})/(?P<index>(?:x\d{3}/){0,6}\d{3})(?:\.p/(?P<w>\d{1,3}))?",
    re.ASCII,
)


def parse_path(path: str) -> TileAddress:
    """The tile a tlog-tiles path names; TileError if it names none."""
    match = _PATH.fullmatch(path)
    if match is None:
        raise TileError(f"{path!r} is not a tlog-tiles path")
    level_text, width_text = match["level"], match["w"]
    level = -1 if level_text == "entries" else int(level_text)
    if level_text != "entries" and level_text != str(level):
        raise TileError(f"tile level {level_text!r} has a leading zero")
    if level > MAX_TILE_LEVEL:
        raise TileError(f"tile level {level} must be 0 to {MAX_TILE_LEVEL}")
    index = int(match["index"].replace("x", "").replace("/", ""))
    width = TILE_WIDTH if width_text is None else int(width_text)
    if width_text is not None and not (1 <= width < TILE_WIDTH and width_text == str(width)):
        raise TileError(f"partial tile width {width_text!r} must be 1 to {TILE_WIDTH - 1}")
    if _encode_index(index) != match["index"]:
        raise TileError(f"tile index {match['index']!r} is not in canonical form")
    return TileAddress(level, index, width)


def bundle_entries(entries: Sequence[bytes]) -> bytes:
    """An entry bundle: each entry prefixed by its length as a big-endian uint16."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_BYTES:
            raise TileError(f"entry of {len(entry)} bytes exceeds {MAX_ENTRY_BYTES}")
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)


def decode_bundle(bundle: bytes) -> list[bytes]:
    """The entries of a bundle, in order; TileError on a truncated one."""
    return list(_iter_bundle(bundle))


def _iter_bundle(bundle: bytes) -> Iterator[bytes]:
    at = 0
    while at < len(bundle):
        if at + 2 > len(bundle):
            raise TileError(f"entry bundle truncated in a length prefix at byte {at}")
        length = int.from_bytes(bundle[at : at + 2], "big")
        end = at + 2 + length
        if end > len(bundle):
            raise TileError(f"entry bundle truncated: entry at byte {at} needs {length} bytes")
        yield bundle[at + 2 : end]
        at = end


def _encode_index(index: int) -> str:
    if not 0 <= index <= MAX_INDEX:
        raise TileError(f"tile index {index} must be 0 to 2**64 - 1")
    text = f"{index:03d}"
    text = "0" * (-len(text) % 3) + text
    groups = [text[at : at + 3] for at in range(0, len(text), 3)]
    return "/".join([*(f"x{group}" for group in groups[:-1]), groups[-1]])


def _partial(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise TileError(f"tile width {width} must be 1 to {TILE_WIDTH}")
    return "" if width == TILE_WIDTH else f".p/{width}"
