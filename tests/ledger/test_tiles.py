"""C2SP tlog-tiles: published path and tree-shape vectors, then properties of growing tiles.

Vectors (tests/ledger/vectors/tlog_tiles_paths.json) come from the tlog-tiles specification,
transparency-dev/tessera's layout tests and golang.org/x/mod/sumdb/tlog's tile paths; the eight-leaf
RFC 6962 reference tree (transparency_dev_reference_tree.json) pins a partial tile's inner levels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueproof.ledger.errors import TileError
from valueproof.ledger.merkle import HASH_SIZE, leaf_hash, node_hash, root_hash, tree_hash
from valueproof.ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileAddress,
    bundle_entries,
    decode_bundle,
    entries_path,
    grow,
    hash_location,
    parse_path,
    tile_path,
    tile_width,
)

VECTORS = Path(__file__).parent / "vectors"
PATHS = json.loads((VECTORS / "tlog_tiles_paths.json").read_text())
REFERENCE = json.loads((VECTORS / "transparency_dev_reference_tree.json").read_text())
MAX_INDEX = 2**64 - 1


class TileStore:
    """Packed tiles in a dict, as a log's storage keeps them: (level, index) -> (blob, width)."""

    def __init__(self) -> None:
        self.blobs: dict[tuple[int, int], tuple[bytes, int]] = {}
        self.size = 0
        self._read_back: dict[tuple[int, int], Tile] = {}

    def load(self, tile_level: int, tile_index: int) -> Tile:
        blob, width = self.blobs[tile_level, tile_index]
        return Tile.unpack(blob, width)

    def append(self, leaf_hashes: Sequence[bytes]) -> dict[tuple[int, int], Tile]:
        changed = grow(self.size, leaf_hashes, self.load)
        for key, tile in changed.items():
            self.blobs[key] = (tile.pack(), tile.width)
        self.size += len(leaf_hashes)
        self._read_back.clear()
        return changed

    def stored_hash(self, level: int, index: int) -> bytes:
        tile_level, tile_index, inner, position = hash_location(level, index)
        key = (tile_level, tile_index)
        if key not in self._read_back:
            self._read_back[key] = self.load(*key)
        return self._read_back[key].levels[inner][position]

    def read(self, coordinates: Sequence[tuple[int, int]]) -> list[bytes]:
        return [self.stored_hash(level, index) for level, index in coordinates]


def subtree_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """levels[l][i]: the hash of complete subtree (l, i), computed directly from the leaves."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(3 * TILE_WIDTH * 5)]
LEVELS = subtree_levels(LEAVES)


# --- Published vectors ----------------------------------------------------------------------------


def test_index_encoding_from_the_spec() -> None:
    for case in PATHS["spec"]["index_encoding"]:
        assert tile_path(0, case["index"]) == f"tile/0/{case['encoded']}"
        assert parse_path(f"tile/0/{case['encoded']}").index == case["index"]


@pytest.mark.parametrize(
    "shape", PATHS["spec"]["tree_shapes"], ids=lambda shape: str(shape["size"])
)
def test_tree_shapes_from_the_spec(shape: dict[str, Any]) -> None:
    size = shape["size"]
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    store = TileStore()
    for start in range(0, size, 30_001):  # in uneven batches, each ending mid-tile
        store.append(leaves[start : start + 30_001])
    for level_text, expected in shape["tiles"].items():
        level = int(level_text)
        widths = sorted(width for (lvl, _), (_, width) in store.blobs.items() if lvl == level)
        full = [width for width in widths if width == TILE_WIDTH]
        partial = [width for width in widths if width < TILE_WIDTH]
        assert len(full) == expected["full"]
        assert partial == ([expected["partial"]] if expected["partial"] else [])
    for (level, index), (_, width) in store.blobs.items():
        assert tile_width(level, index, size) == width
    assert {level for level, _ in store.blobs} == {int(level) for level in shape["tiles"]}
    # The spec's definition: hash i of tile (l, n) is MTH(D[(n*256 + i) * 256**l : ... + 256**l]).
    for (level, index), (blob, width) in store.blobs.items():
        span = TILE_WIDTH**level
        first = index * TILE_WIDTH
        served = Tile.unpack(blob, width).served()
        for i in (0, width - 1):
            start = (first + i) * span
            assert served[i * HASH_SIZE : (i + 1) * HASH_SIZE] == root_hash(
                leaves[start : start + span]
            )
    assert tree_hash(size, store.read) == root_hash(leaves)


def test_reference_tree_as_a_partial_tile() -> None:
    leaves = [leaf_hash(bytes.fromhex(data)) for data in REFERENCE["leaf_inputs_hex"]]
    changed = grow(0, leaves, lambda level, index: pytest.fail("an empty log has no tiles"))
    assert list(changed) == [(0, 0)]
    tile = changed[0, 0]
    assert tile.width == 8
    for inner, hashes in enumerate(REFERENCE["node_hashes"]):
        assert [value.hex() for value in tile.levels[inner]] == hashes
    assert tile.levels[len(REFERENCE["node_hashes"]) :] == [[]] * (
        TILE_HEIGHT - len(REFERENCE["node_hashes"])
    )
    assert tile.served().hex() == "".join(REFERENCE["node_hashes"][0])
    assert tile_path(0, 0, tile.width) == "tile/0/000.p/8"


@pytest.mark.parametrize("case", PATHS["tessera"]["tile_path"], ids=lambda case: case["path"])
def test_tessera_tile_paths(case: dict[str, Any]) -> None:
    width = case["p"] or TILE_WIDTH
    assert tile_path(case["level"], case["index"], width) == case["path"]
    assert parse_path(case["path"]) == TileAddress(case["level"], case["index"], width)


@pytest.mark.parametrize("case", PATHS["tessera"]["entries_path"], ids=lambda case: case["path"])
def test_tessera_entries_paths(case: dict[str, Any]) -> None:
    width = case["p"] or TILE_WIDTH
    assert entries_path(case["n"], width) == case["path"]
    address = parse_path(case["path"])
    assert address == TileAddress(-1, case["n"], width)
    assert address.is_entries


@pytest.mark.parametrize("case", PATHS["tessera"]["entries_path_for_log_index"])
def test_tessera_entries_path_for_log_index(case: dict[str, Any]) -> None:
    bundle = case["seq"] // TILE_WIDTH
    assert entries_path(bundle, tile_width(0, bundle, case["log_size"])) == case["path"]


@pytest.mark.parametrize("case", PATHS["tessera"]["n_with_suffix"], ids=lambda case: case["n"])
def test_tessera_index_with_suffix(case: dict[str, Any]) -> None:
    assert tile_path(15, case["index"], case["p"] or TILE_WIDTH) == f"tile/15/{case['n']}"


@pytest.mark.parametrize(
    "case",
    PATHS["tessera"]["parse_tile_level_index_partial"],
    ids=lambda case: f"{case['level']}/{case['index']}",
)
def test_tessera_parse_cases(case: dict[str, Any]) -> None:
    path = f"tile/{case['level']}/{case['index']}"
    if case.get("want_err"):
        with pytest.raises(TileError):
            parse_path(path)
        return
    width = case["want_p"] or TILE_WIDTH
    assert parse_path(path) == TileAddress(case["want_level"], case["want_index"], width)
    assert tile_path(case["want_level"], case["want_index"], width) == path


def test_go_sumdb_index_encodings() -> None:
    for case in PATHS["go_sumdb"]["n_encodings"]:
        assert tile_path(3, case["index"]) == f"tile/3/{case['n']}"
        assert parse_path(f"tile/3/{case['n']}").index == case["index"]
    for text in PATHS["go_sumdb"]["invalid_n"]:
        with pytest.raises(TileError):
            parse_path(f"tile/3/{text}")


# --- Growing tiles --------------------------------------------------------------------------------

batches = st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=6).filter(
    lambda sizes: sum(sizes) <= len(LEAVES)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_grown_tiles_hold_every_subtree_hash(sizes: list[int]) -> None:
    store = TileStore()
    for count in sizes:
        before = {key: width for key, (_, width) in store.blobs.items()}
        changed = store.append(LEAVES[store.size : store.size + count])
        for key, tile in changed.items():
            assert tile.width > before.get(key, 0), "grow returns only tiles that grew"
        size = store.size
        expected_tiles = {
            (level, index)
            for level in range(3)
            for index in range(TILE_WIDTH)
            if tile_width(level, index, size)
        }
        assert set(store.blobs) == expected_tiles
        for (level, index), (blob, width) in store.blobs.items():
            assert width == tile_width(level, index, size)
            tile = Tile.unpack(blob, width)
            assert tile.pack() == blob
            first = index * TILE_WIDTH
            assert tile.served() == b"".join(LEVELS[TILE_HEIGHT * level][first : first + width])
        for level in range(size.bit_length()):
            for index in range(size >> level):
                assert store.stored_hash(level, index) == LEVELS[level][index]
        assert tree_hash(size, store.read) == root_hash(LEAVES[:size])


def test_grow_refuses_a_stored_tile_of_the_wrong_width() -> None:
    store = TileStore()
    store.append(LEAVES[:10])
    store.blobs[0, 0] = (b"", 0)  # storage lost the partial tile's hashes
    with pytest.raises(TileError, match="holds 0 hashes, expected 10"):
        grow(10, LEAVES[10:12], store.load)


def test_only_a_full_tile_has_a_root() -> None:
    tile = Tile.empty()
    tile.extend(LEAVES[:255])
    with pytest.raises(TileError, match="only a full tile"):
        tile.root()
    tile.extend(LEAVES[255:256])
    assert tile.root() == LEVELS[TILE_HEIGHT][0]


@given(st.integers(min_value=0, max_value=TILE_WIDTH), st.binary(max_size=3 * HASH_SIZE))
def test_unpack_rejects_a_blob_of_the_wrong_length(width: int, junk: bytes) -> None:
    tile = Tile.empty()
    tile.extend(LEAVES[:width])
    blob = tile.pack()
    assert Tile.unpack(blob, width).levels == tile.levels
    for wrong in (blob + junk[: 1 + len(junk) // 2], blob[: -1 - len(junk) // 3]):
        if len(wrong) != len(blob):
            with pytest.raises(TileError, match=f"width {width}"):
                Tile.unpack(wrong, width)


@given(st.integers(min_value=0, max_value=63 * 8), st.integers(min_value=0, max_value=MAX_INDEX))
def test_hash_location_names_the_tile_holding_a_node(level: int, index: int) -> None:
    tile_level, tile_index, inner, position = hash_location(level, index)
    assert TILE_HEIGHT * tile_level + inner == level
    assert 0 <= inner < TILE_HEIGHT
    assert 0 <= position < TILE_WIDTH >> inner
    assert tile_index * (TILE_WIDTH >> inner) + position == index


@given(
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=2**20),
    st.integers(min_value=0, max_value=2**48),
)
def test_tile_width_follows_the_spec(level: int, index: int, size: int) -> None:
    # tlog-tiles: floor(s / 256**(l+1)) full tiles at level l, then one of floor(s/256**l) mod 256.
    full_tiles, partial = (
        size // TILE_WIDTH ** (level + 1),
        (size // TILE_WIDTH**level) % TILE_WIDTH,
    )
    expected = TILE_WIDTH if index < full_tiles else partial if index == full_tiles else 0
    assert tile_width(level, index, size) == expected


# --- Paths ----------------------------------------------------------------------------------------

levels = st.integers(min_value=0, max_value=63)
indexes = st.one_of(
    st.integers(min_value=0, max_value=2000),
    st.integers(min_value=0, max_value=MAX_INDEX),
    st.sampled_from([999, 1000, 999_999, 1_000_000, MAX_INDEX]),
)
widths = st.integers(min_value=1, max_value=TILE_WIDTH)


@given(levels, indexes, widths)
def test_tile_paths_round_trip(level: int, index: int, width: int) -> None:
    path = tile_path(level, index, width)
    address = parse_path(path)
    assert address == TileAddress(level, index, width)
    assert address.path == path
    assert not address.is_entries


@given(indexes, widths)
def test_entries_paths_round_trip(index: int, width: int) -> None:
    path = entries_path(index, width)
    assert parse_path(path) == TileAddress(-1, index, width)
    assert parse_path(path).path == path


@pytest.mark.parametrize(
    ("level", "index", "width"),
    [(64, 0, 256), (-1, 0, 256), (0, -1, 256), (0, MAX_INDEX + 1, 256), (0, 0, 0), (0, 0, 257)],
)
def test_paths_are_not_written_for_impossible_tiles(level: int, index: int, width: int) -> None:
    with pytest.raises(TileError):
        tile_path(level, index, width)


def _mutations(path: str, level: int, width: int) -> list[str]:
    """Non-canonical spellings of the same tile: each must be refused, never read as another."""
    rest = path.removeprefix(f"tile/{level}/")
    index_text, _, _ = rest.partition(".p/")
    groups = index_text.split("/")
    mutated = [
        f"tile/0{level}/{rest}",  # leading zero in <L>
        f"tile/{level}/x000/{rest}",  # a leading zero group
        f"tile/{level}/{index_text}/",
        f"tile/{level}/{index_text}.p/0",
        f"tile/{level}/{index_text}.p/256",
        f"tile/{level}/{index_text}.p/",
        f"tile/{level}/{index_text}.p",
        f"tile/{level}/{index_text}.P/{max(1, width % 256)}",
        f"tile/{level}/x{rest}",  # the last group prefixed
        f"tile/{level + 64}/{rest}",
        f"/tile/{level}/{rest}",
        f"tile/{level}/{'/'.join([*groups[:-1], '0' + groups[-1]])}",  # a four-digit group
        f"tile/{level}/{'/'.join([*groups[:-1], groups[-1][1:]])}",  # a two-digit group
    ]
    if width < TILE_WIDTH:
        mutated.append(f"tile/{level}/{index_text}.p/0{width}")
    if len(groups) > 1:
        mutated.append(f"tile/{level}/{'/'.join(g.removeprefix('x') for g in groups)}")
        mutated.append(f"tile/{level}/{'/'.join(g.upper() for g in groups)}")
    return mutated


@given(levels, indexes, widths)
def test_non_canonical_paths_are_refused(level: int, index: int, width: int) -> None:
    path = tile_path(level, index, width)
    for mutated in _mutations(path, level, width):
        with pytest.raises(TileError):
            parse_path(mutated)


hostile_paths = st.one_of(
    st.text(alphabet="tile/entrsx.p0123456789", max_size=48),
    st.from_regex(
        r"tile/(entries|[0-9]{1,3})/(x[0-9]{2,4}/){0,8}[0-9]{2,4}(\.p/[0-9]{1,4})?", fullmatch=True
    ),
    st.text(max_size=48),
)


@settings(max_examples=200)
@given(hostile_paths)
def test_any_text_parses_only_to_its_own_canonical_path(text: str) -> None:
    try:
        address = parse_path(text)
    except TileError:
        return
    assert address.path == text


def test_an_enormous_index_is_refused_as_a_tile_error() -> None:
    with pytest.raises(TileError):
        parse_path("tile/0/" + "x123/" * 1500 + "456")
    with pytest.raises(TileError):
        parse_path("tile/0/000.p/" + "1" * 5000)


# --- Entry bundles --------------------------------------------------------------------------------

entries = st.lists(st.binary(max_size=300), max_size=20)


@given(entries)
def test_bundles_round_trip(items: list[bytes]) -> None:
    bundle = bundle_entries(items)
    assert len(bundle) == sum(2 + len(item) for item in items)
    assert decode_bundle(bundle) == items


@given(entries.filter(bool), st.data())
def test_truncated_bundles_are_refused(items: list[bytes], data: st.DataObject) -> None:
    bundle = bundle_entries(items)
    cut = data.draw(st.integers(min_value=0, max_value=len(bundle) - 1), label="cut")
    boundaries = [0]
    for item in items:
        boundaries.append(boundaries[-1] + 2 + len(item))
    if cut in boundaries:
        assert decode_bundle(bundle[:cut]) == items[: boundaries.index(cut)]
    else:
        with pytest.raises(TileError, match="truncated"):
            decode_bundle(bundle[:cut])


def test_bundle_entry_size_limit() -> None:
    largest = b"\xff" * 0xFFFF
    assert decode_bundle(bundle_entries([largest, b""])) == [largest, b""]
    with pytest.raises(TileError, match="exceeds"):
        bundle_entries([largest + b"\x00"])
