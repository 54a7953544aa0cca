"""Tests for cli/output.py: the one mapping from our errors to exit codes, and table cells."""

from __future__ import annotations

import pytest

from valueproof.cli.output import cell_text, exit_code
from valueproof.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ValueproofError,
)
from valueproof.metering.errors import MalformedInput


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("field", "reason"), 2),
        (PayloadTooLarge("events", "too many"), 2),
        (MalformedInput("path", "unreadable"), 2),
        (NotFound("no such thing"), 3),
        (AlreadyExists("taken"), 4),
        (Conflict("contradicts"), 4),
        (Forbidden("no scope"), 1),
        (ValueproofError("anything else"), 1),
    ],
)
def test_exit_code_by_error_type(error: ValueproofError, code: int) -> None:
    assert exit_code(error) == code


def test_cells_are_plain_text() -> None:
    assert cell_text(None) == ""
    assert cell_text(True) == "true"
    assert cell_text({"a": [1, "b"]}) == '{"a":[1,"b"]}'
    assert cell_text("[bold]x[/bold]") == "[bold]x[/bold]"
