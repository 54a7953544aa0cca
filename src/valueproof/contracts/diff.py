"""What changed between two versions of a contract, as changes at field paths. Pure.

Documents are compared in their stored form (`records.document_json`). Components and discounts
are matched by id and named by it (`components[api].tiers[1].unit_price`), so adding one
component reads as one addition, not as a change to every component after it. Other lists are
compared by position (`tiers[1]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from valueproof.contracts.records import document_json
from valueproof.errors import InvalidInput

if TYPE_CHECKING:
    from valueproof.contracts.document import ContractDocument
    from valueproof.contracts.registry import StoredVersion

__all__ = [
    "Change",
    "ChangeKind",
    "VersionDiff",
    "change_json",
    "diff_documents",
    "diff_versions",
    "pending_changes",
    "resolve_path",
    "version_diff_json",
]

ChangeKind = Literal["added", "removed", "changed", "reordered"]

# The lists of a contract whose items are named by their `id`.
KEYED_LISTS = frozenset({"components", "discounts"})


@dataclass(frozen=True, slots=True)
class Change:
    """One difference. `old` of an addition and `new` of a removal are None; a reorder of
    components (or discounts) has their ids in the old and the new order."""

    path: str
    kind: ChangeKind
    old: Any
    new: Any


def diff_documents(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change from `old` to `new` in document order; empty exactly when they are equal."""
    return list(_mapping("", old, new, top=True))


def _value(path: str, old: Any, new: Any, keyed: bool = False) -> Iterator[Change]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        yield from _mapping(path, old, new, top=False)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _keyed(path, old, new) if keyed else _by_position(path, old, new)
    elif old != new:
        yield Change(path, "changed", old, new)


def _mapping(
    path: str, old: Mapping[str, Any], new: Mapping[str, Any], top: bool
) -> Iterator[Change]:
    for key, value in new.items():
        at = f"{path}.{key}" if path else str(key)
        if key not in old:
            yield Change(at, "added", None, value)
        else:
            yield from _value(at, old[key], value, keyed=top and key in KEYED_LISTS)
    for key, value in old.items():
        if key not in new:
            yield Change(f"{path}.{key}" if path else str(key), "removed", value, None)


def _by_position(path: str, old: list[Any], new: list[Any]) -> Iterator[Change]:
    for index, (before, after) in enumerate(zip(old, new, strict=False)):
        yield from _value(f"{path}[{index}]", before, after)
    for index in range(len(old), len(new)):
        yield Change(f"{path}[{index}]", "added", None, new[index])
    for index in range(len(new), len(old)):
        yield Change(f"{path}[{index}]", "removed", old[index], None)


def _keyed(path: str, old: list[Any], new: list[Any]) -> Iterator[Change]:
    old_ids, new_ids = _ids(old), _ids(new)
    if old_ids is None or new_ids is None:  # not a valid contract's list: compare by position
        yield from _by_position(path, old, new)
        return
    before = dict(zip(old_ids, old, strict=True))
    after = dict(zip(new_ids, new, strict=True))
    # Additions and removals alone never reorder; only the kept items' order can change.
    if [i for i in old_ids if i in after] != [i for i in new_ids if i in before]:
        yield Change(path, "reordered", old_ids, new_ids)
    for ident, item in after.items():
        at = f"{path}[{ident}]"
        if ident in before:
            yield from _value(at, before[ident], item)
        else:
            yield Change(at, "added", None, item)
    for ident, item in before.items():
        if ident not in after:
            yield Change(f"{path}[{ident}]", "removed", item, None)


def _ids(items: list[Any]) -> list[str] | None:
    """The items' ids, if every item has a distinct one that cannot be read as a position."""
    ids: list[str] = []
    for item in items:
        ident = item.get("id") if isinstance(item, Mapping) else None
        if not isinstance(ident, str) or not _ID.fullmatch(ident) or ident in ids:
            return None
        ids.append(ident)
    return ids


# An id a path can name unambiguously: no brackets, and no leading digit (or it reads as a
# position). Every valid contract key qualifies: it starts with a letter.
_ID = re.compile(r"[^\[\].\d][^\[\]]*")
# One step of a path: `.name` (or `name` first) or `[position or id]`.
_STEP = re.compile(r"(?:^|\.)([^.\[\]]+)|\[([^\[\]]+)\]")


def resolve_path(document: Any, path: str) -> Any:
    """The value at a field path of `diff_documents` (`components[api].tiers[0]`); KeyError if
    the document has none there."""
    value, position = document, 0
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise KeyError(path)
        name, inside = step.groups()
        position = step.end()
        value = _step(value, name, inside, path)
    return value


def _step(value: Any, name: str | None, inside: str, path: str) -> Any:
    if name is not None and isinstance(value, Mapping) and name in value:
        return value[name]
    if name is None and isinstance(value, list):
        if inside.isdigit() and int(inside) < len(value):
            return value[int(inside)]
        for item in value:
            if isinstance(item, Mapping) and item.get("id") == inside:
                return item
    raise KeyError(path)


def change_json(change: Change) -> dict[str, Any]:
    """A change as the API and the CLI give it."""
    return {"path": change.path, "kind": change.kind, "old": change.old, "new": change.new}


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """The changes from version `start` of a contract to version `end` (`start` None: from no
    document at all, for a contract's first version)."""

    contract: str
    start: int | None
    end: int
    changes: tuple[Change, ...]


def diff_versions(
    history: Sequence[StoredVersion], start: int | None = None, end: int | None = None
) -> VersionDiff:
    """Diff two stored versions (default: the previous one against the latest)."""
    latest = history[-1].version
    end = latest if end is None else _existing(end, "to", latest)
    if start is None:
        start = end - 1 if end > 1 else None
    else:
        _existing(start, "from", latest)
    old = {} if start is None else document_json(history[start - 1].document)
    new = document_json(history[end - 1].document)
    return VersionDiff(history[-1].contract, start, end, tuple(diff_documents(old, new)))


def _existing(number: int, field: str, latest: int) -> int:
    if not 1 <= number <= latest:
        raise InvalidInput(field, f"no version {number}; the contract has versions 1 to {latest}")
    return number


def pending_changes(latest: StoredVersion | None, document: ContractDocument) -> list[Change]:
    """What applying `document` would change: nothing where apply finds it unchanged (decimals
    equal in value, say), every field where the contract is new."""
    if latest is None:
        return diff_documents({}, document_json(document))
    if latest.document == document:
        return []
    return diff_documents(document_json(latest.document), document_json(document))


def version_diff_json(found: VersionDiff) -> dict[str, Any]:
    """A diff of two versions as the API and the CLI give it."""
    return {
        "contract": found.contract,
        "from": found.start,
        "to": found.end,
        "changes": [change_json(c) for c in found.changes],
    }
