"""Documents people write as JSON or YAML (contracts, outcome definitions, success-plan actions,
scorecards, segment rules): one reader, so each says alike where a text breaks; and where in any
document a NUL byte hides, which no text we store may hold."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from valueproof.errors import DocumentUnreadable, InvalidInput, field_path

__all__ = ["NUL_REASON", "load_document", "nul_field", "refuse_nul"]

# PostgreSQL cannot hold U+0000 in text; SQLite could. Refused everywhere, so both backends agree.
NUL_REASON = "contains a NUL byte (U+0000), which no text may hold"


def load_document(text: str) -> Any:
    """The data of a JSON or YAML text, not yet validated. JSON is tried first: YAML reads most
    JSON, but not tab indentation. InvalidInput naming the field where a NUL byte is."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = _load_yaml(text)
    refuse_nul(data)
    return data


def refuse_nul(data: Any, root: str = "(document)") -> None:
    """InvalidInput naming the field of `data` (parsed JSON or YAML) that holds a NUL byte."""
    field = nul_field(data, root)
    if field is not None:
        raise InvalidInput(field, NUL_REASON)


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "malformed"
        raise DocumentUnreadable(f"not valid YAML or JSON{where}: {problem}") from None


def nul_field(data: Any, root: str = "(document)") -> str | None:
    """The path of the first key or string in `data` (parsed JSON or YAML) holding a NUL byte
    (`events[2].account`), `root` for a bare string, or None when there is none."""
    found = _nul_path(data, ())
    if found is None:
        return None
    return field_path(found) or root


def _nul_path(data: Any, path: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    if isinstance(data, str):
        return path if "\0" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            name = str(key)
            if "\0" in name:
                return (*path, name.replace("\0", "\\0"))
            found = _nul_path(value, (*path, name))
            if found is not None:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = _nul_path(value, (*path, index))
            if found is not None:
                return found
    return None
