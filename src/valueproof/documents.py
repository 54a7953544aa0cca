"""Documents people write as JSON or YAML (contracts, outcome definitions, success-plan actions,
scorecards, segment rules): one reader, so each says alike where a text breaks."""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from valueproof.errors import DocumentUnreadable

__all__ = ["load_document"]


def load_document(text: str) -> Any:
    """The data of a JSON or YAML text, not yet validated. JSON is tried first: YAML reads most
    JSON, but not tab indentation."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "malformed"
        raise DocumentUnreadable(f"not valid YAML or JSON{where}: {problem}") from None
