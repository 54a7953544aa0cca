"""The packages import in one direction only: the dependency order of the design, read from the
source with `ast` (every import, also those inside functions).

The order, left to right (a unit imports only units to its left, or within its own group):

    errors money periods config documents strict_json batches sealing  (and the package root)
    -> store tenancy -> webhooks -> ledger -> metering -> outcomes -> contracts -> billing
    -> success -> reports -> dealdesk -> demo -> api cli web -> server

Two departures from the design's order, both written down here:

- `demo` sits below the shells, not among them: it is the sample book as a library (generator,
  seed, ground-truth labels), which the `demo` and `backtest` commands and the backtest router
  call. Nothing in it serves a request or parses a command line.
- `server` (`valueproof/server.py`) is the composition root: the only module that imports both
  `api` and `web`, which never import each other. `cli` may import it (`valueproof serve` runs the
  assembled server) and nothing else does; it imports no `cli`.

`store/migrations/env.py` alone may import every domain (their tables, for Alembic).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "valueproof"
ORDER: list[set[str]] = [
    # the foundations; "" is the package root, `valueproof/__init__.py`
    {"errors", "money", "periods", "config", "documents", "strict_json", "batches", "sealing", ""},
    {"store", "tenancy"},
    {"webhooks"},
    {"ledger"},
    {"metering"},
    {"outcomes"},
    {"contracts"},
    {"billing"},
    {"success"},
    {"reports"},
    {"dealdesk"},
    {"demo"},
    {"api", "cli", "web"},
    {"server"},
]
SHELLS = {"api", "cli", "web"}
ROOT = "server"
ALL_DOMAINS = "valueproof.store.migrations.env"
RANK = {unit: rank for rank, group in enumerate(ORDER) for unit in group}


def modules() -> Iterator[tuple[str, Path]]:
    """Every module of the package as (dotted name, path)."""
    for path in sorted(SOURCE.rglob("*.py")):
        parts = ["valueproof", *path.relative_to(SOURCE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Each valueproof module `module` imports, with the line, relative imports resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield name, node.lineno


def unit(module: str) -> str | None:
    """The layer unit of a valueproof module (its first name under `valueproof`), else None."""
    parts = module.split(".")
    if parts[0] != "valueproof":
        return None
    return parts[1] if len(parts) > 1 else ""


def violation(importer: str, target: str) -> str | None:
    """Why `importer` may not import `target` (two units), or None if it may."""
    if importer == target:
        return None
    if importer not in RANK or target not in RANK:
        return f"{importer or target!r} has no place in the order; add it to ORDER"
    if importer in SHELLS and target in SHELLS:
        return "shells never import each other; compose them in valueproof/server.py"
    if target == ROOT:
        return None if importer == "cli" else "only cli (`serve`) imports the composition root"
    if importer == ROOT and target == "cli":
        return "cli imports the composition root, so the root imports no cli"
    if RANK[target] > RANK[importer]:
        return "imports rightwards in the dependency order"
    return None


def edges() -> Iterator[tuple[str, str, str]]:
    """(importer unit, imported unit, where) for every import across units, but env.py's."""
    for module, path in modules():
        if module == ALL_DOMAINS:
            continue
        importer = unit(module)
        assert importer is not None
        for name, line in imported(module, path):
            target = unit(name)
            if target is not None and target != importer:
                yield importer, target, f"{path.relative_to(SOURCE.parent)}:{line} imports {name}"


def test_every_import_goes_leftwards_in_the_dependency_order() -> None:
    found = [f"{where}: {why}" for a, b, where in edges() if (why := violation(a, b))]
    assert found == []


def test_no_two_units_import_each_other() -> None:
    # The order lets a group's members import one another (store and tenancy, say); not both ways.
    pairs = {(a, b) for a, b, _ in edges()}
    assert sorted((a, b) for a, b in pairs if (b, a) in pairs) == []


def test_only_the_migrations_environment_imports_every_domain() -> None:
    names = {unit(name) for name, _ in imported(ALL_DOMAINS, SOURCE / "store/migrations/env.py")}
    assert {"tenancy", "ledger", "metering", "outcomes", "contracts", "success"} <= names
    assert not names & (SHELLS | {ROOT, "demo"})


def test_every_package_and_module_has_a_place() -> None:
    units = {unit(module) for module, _ in modules()}
    assert units - set(RANK) == set()


@pytest.mark.parametrize(
    ("importer", "target", "allowed"),
    [
        ("metering", "ledger", True),
        ("ledger", "metering", False),
        ("store", "tenancy", True),  # one group: neither is to the other's right
        ("api", "web", False),
        ("web", "api", False),
        ("cli", "api", False),
        ("cli", "server", True),
        ("api", "server", False),
        ("server", "api", True),
        ("server", "cli", False),
        ("billing", "success", False),
        ("dealdesk", "reports", True),
        ("demo", "success", True),
        ("success", "demo", False),
        ("api", "demo", True),
        ("nowhere", "errors", False),
    ],
)
def test_the_rule_itself(importer: str, target: str, allowed: bool) -> None:
    assert (violation(importer, target) is None) is allowed
