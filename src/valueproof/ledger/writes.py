"""The ledger's writes, one transaction each: make or rotate the signing key, sign a checkpoint.

Each takes the engine, holds the tenant's write lock, reads the clock and commits; the API and
the CLI parse their input, call one of these, and render what it returns.
"""

from __future__ import annotations

from sqlalchemy import Engine

from valueproof.errors import Conflict
from valueproof.ledger.keyring import Keyring, StoredKey, generate_key, stored_keys
from valueproof.ledger.publish import (
    PublishedCheckpoint,
    log_origin,
    publish_checkpoint,
    rotate_key,
)
from valueproof.store import tenant_write
from valueproof.tenancy.clock import now_us
from valueproof.tenancy.tenants import Tenant

__all__ = ["create_key", "rotate", "sign_checkpoint"]


def create_key(
    engine: Engine, tenant: Tenant, origin_prefix: str, keyring: Keyring, passphrase: str
) -> tuple[StoredKey, PublishedCheckpoint]:
    """The tenant's first signing key, named by its log's origin, and a first checkpoint.

    Conflict if the tenant has an active key already: rotating replaces one.
    """
    tenant_id = tenant.id
    with tenant_write(engine, tenant_id) as connection:
        if any(key.active for key in stored_keys(connection, tenant_id)):
            raise Conflict(f"tenant {tenant.slug!r} has a signing key; use `ledger rotate`")
        name = log_origin(origin_prefix, tenant.slug)
        key = generate_key(connection, tenant_id, name, passphrase, now_us())
        signer = keyring.active_signer(connection, tenant_id)
        published = publish_checkpoint(connection, tenant_id, [signer], now_us())
    return key, published


def rotate(
    engine: Engine, tenant: Tenant, keyring: Keyring, passphrase: str
) -> tuple[StoredKey, PublishedCheckpoint]:
    """Retire the active key for a new one (under the log's own origin), and sign a handover
    checkpoint with both."""
    with tenant_write(engine, tenant.id) as connection:
        published = rotate_key(connection, tenant.id, keyring, passphrase, now_us())
        key = next(key for key in stored_keys(connection, tenant.id) if key.active)
    return key, published


def sign_checkpoint(engine: Engine, tenant_id: int, keyring: Keyring) -> PublishedCheckpoint:
    """Sign a checkpoint of the log as it stands now with the active key."""
    with tenant_write(engine, tenant_id) as connection:
        signer = keyring.active_signer(connection, tenant_id)
        return publish_checkpoint(connection, tenant_id, [signer], now_us())
