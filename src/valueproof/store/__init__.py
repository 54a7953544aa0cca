"""Storage: engines, transactions and migrations shared by every domain (each owns its tables)."""

from valueproof.store.engine import (
    connect_engine,
    placeholder,
    read,
    tenant_lock,
    tenant_write,
    write,
)
from valueproof.store.migrate import upgrade
from valueproof.store.schema import metadata

__all__ = [
    "connect_engine",
    "metadata",
    "placeholder",
    "read",
    "tenant_lock",
    "tenant_write",
    "upgrade",
    "write",
]
