"""The shells (api/, cli/, web/) hold no write transactions: each write (its transaction, the
tenant lock, the ledger append and the checkpoint if due) is one function of a domain package
that the router and the command both call. Read with ast over `src/valueproof`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import valueproof

SOURCE = Path(valueproof.__file__).parent
SHELLS = ("api", "cli", "web")

# What only a domain's write function does.
TRANSACTION_NAMES = {
    "valueproof.store": {"write", "tenant_write", "tenant_lock"},
    "valueproof.store.engine": {"write", "tenant_write", "tenant_lock"},
    "valueproof.ledger.publish": {"after_append"},
}
ALWAYS_FORBIDDEN = {"tenant_lock", "tenant_write", "after_append"}


def violations(source: str) -> list[str]:
    """Each place `source` opens a write transaction, locks a tenant, signs a checkpoint after
    an append, or builds a CheckpointPolicy other than with `CheckpointPolicy.from_settings`."""
    tree = ast.parse(source)
    found: list[tuple[int, str]] = []
    imported: set[str] = set()  # local names of the functions above
    modules: dict[str, str] = {}  # local name -> one of TRANSACTION_NAMES' modules
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            forbidden = TRANSACTION_NAMES.get(node.module, set())
            for alias in node.names:
                if alias.name in forbidden:
                    found.append((node.lineno, f"imports {node.module}.{alias.name}"))
                    imported.add(alias.asname or alias.name)
                qualified = f"{node.module}.{alias.name}"
                if qualified in TRANSACTION_NAMES:
                    modules[alias.asname or alias.name] = qualified
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in TRANSACTION_NAMES and alias.asname is not None:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name):
            if function.id in imported or function.id in ALWAYS_FORBIDDEN:
                found.append((node.lineno, f"calls {function.id}"))
            elif function.id == "CheckpointPolicy":
                found.append((node.lineno, "builds CheckpointPolicy(...) directly"))
        elif isinstance(function, ast.Attribute):
            owner = function.value
            module = modules.get(owner.id) if isinstance(owner, ast.Name) else None
            if function.attr in ALWAYS_FORBIDDEN or (
                module is not None and function.attr in TRANSACTION_NAMES[module]
            ):
                found.append((node.lineno, f"calls {ast.unparse(function)}"))
    return [f"line {line}: {what}" for line, what in sorted(found, key=lambda item: item[0])]


def shell_modules() -> list[Path]:
    return sorted(path for shell in SHELLS for path in (SOURCE / shell).rglob("*.py"))


@pytest.mark.parametrize("path", shell_modules(), ids=lambda path: str(path.relative_to(SOURCE)))
def test_a_shell_module_calls_a_domain_write_instead_of_holding_one(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


def test_the_shells_are_all_read() -> None:
    names = {str(path.relative_to(SOURCE)) for path in shell_modules()}
    assert {"api/routers/contracts.py", "cli/contracts.py", "web/pages.py"} <= names


def test_every_way_of_holding_a_write_in_a_shell_is_found() -> None:
    source = """
from valueproof import store
from valueproof.store import read, tenant_lock, write as begin
from valueproof.ledger import publish
from valueproof.ledger.publish import CheckpointPolicy, after_append
import valueproof.store as storage

def handler(engine, stream, keyring, settings):
    stream.write("not a transaction")
    with read(engine) as connection:
        pass
    fine = CheckpointPolicy.from_settings(keyring, settings)
    with begin(engine) as connection:
        tenant_lock(connection, 1)
        after_append(connection, 1, CheckpointPolicy(keyring, 5), 0)
    with store.write(engine) as connection:
        store.tenant_write(engine, 1)
    with storage.write(engine) as connection:
        publish.after_append(connection, 1, fine, 0)
"""
    found = violations(source)
    assert found == [
        "line 3: imports valueproof.store.tenant_lock",
        "line 3: imports valueproof.store.write",
        "line 5: imports valueproof.ledger.publish.after_append",
        "line 13: calls begin",
        "line 14: calls tenant_lock",
        "line 15: calls after_append",
        "line 15: builds CheckpointPolicy(...) directly",
        "line 16: calls store.write",
        "line 17: calls store.tenant_write",
        "line 18: calls storage.write",
        "line 19: calls publish.after_append",
    ]
