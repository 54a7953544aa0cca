"""Tests for cli/db.py: `db upgrade` migrates a new database and is safe to run again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect
from typer.testing import CliRunner

from valueproof.cli.main import app
from valueproof.store import connect_engine


def test_upgrade_migrates_a_new_database_and_can_run_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for _ in range(2):
        result = CliRunner().invoke(app, ["--database-url", url, "db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "newest schema" in result.stdout
    engine = connect_engine(url)
    try:
        assert {"tenants", "accounts", "api_keys"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
