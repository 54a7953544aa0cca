"""Signed checkpoints: when to sign one, signing it, and the checkpoints a tenant has published."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from valueproof.config import Settings
from valueproof.errors import NotFound
from valueproof.ledger import log
from valueproof.ledger.checkpoints import Checkpoint, parse_checkpoint
from valueproof.ledger.errors import SigningKeyError
from valueproof.ledger.keyring import Keyring, generate_key
from valueproof.ledger.notes import NoteSigner, parse_note, sign_note
from valueproof.ledger.tables import ledger_checkpoints, ledger_keys
from valueproof.periods import format_rfc3339, from_micros
from valueproof.store import read, tenant_lock, write
from valueproof.webhooks.outbox import enqueue

__all__ = [
    "CheckpointPolicy",
    "PublishedCheckpoint",
    "after_append",
    "checkpoint_at",
    "checkpoint_json",
    "latest_checkpoint",
    "log_origin",
    "publish_checkpoint",
    "published_checkpoints",
    "rotate_key",
    "sign_due_checkpoints",
]


@dataclass(frozen=True, slots=True)
class PublishedCheckpoint:
    """A checkpoint as signed and stored: the parsed body and the signed note text."""

    checkpoint: Checkpoint
    note: str
    created_us: int


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """How ingest signs checkpoints: with which keys, and at most how often (0: every batch)."""

    keyring: Keyring
    interval_us: int = 0

    @classmethod
    def from_settings(cls, keyring: Keyring, settings: Settings) -> CheckpointPolicy:
        """The policy the settings ask for: `checkpoint_interval_seconds`, in microseconds."""
        return cls(keyring, settings.checkpoint_interval_seconds * 1_000_000)


def log_origin(prefix: str, tenant_slug: str) -> str:
    """A new tenant log's origin line, which is also its signing keys' name.

    tlog-tiles says the origin SHOULD be the log's URL prefix without the scheme: the server
    serves a tenant's tiles under `/tlog/<tenant>/`, so with `prefix` set to the host (and path)
    the API is reached at, the origin names exactly where its tiles are.
    """
    return f"{prefix}/tlog/{tenant_slug}"


def after_append(
    connection: Connection, tenant_id: int, policy: CheckpointPolicy, now_us: int
) -> PublishedCheckpoint | None:
    """Sign a checkpoint of the log as it now stands, if one is due and a key can sign it.

    Ingest never fails for want of a key: the leaves are on the log either way, and the next
    checkpoint (or `valueproof ledger checkpoint`) covers them.
    """
    if not policy.keyring.can_sign:
        return None
    latest = latest_checkpoint(connection, tenant_id)
    size = log.log_size(connection, tenant_id)
    if latest is not None and (
        latest.checkpoint.size == size or now_us - latest.created_us < policy.interval_us
    ):
        return None
    try:
        signer = policy.keyring.active_signer(connection, tenant_id)
    except SigningKeyError:
        return None
    return publish_checkpoint(connection, tenant_id, [signer], now_us)


def sign_due_checkpoints(
    engine: Engine, policy: CheckpointPolicy, now_us: int
) -> dict[int, PublishedCheckpoint]:
    """Sign a checkpoint for every tenant whose log grew and whose latest checkpoint is due.

    What the server runs every interval, so that the last leaves of a quiet log do not wait
    for the next ingest batch to be covered. Returns the new checkpoints by tenant id.
    """
    with read(engine) as connection:
        tenant_ids = connection.execute(
            select(ledger_keys.c.tenant_id).where(ledger_keys.c.retired_us.is_(None))
        ).scalars()
        candidates = sorted(set(tenant_ids))
    signed = {}
    for tenant_id in candidates:
        with write(engine) as connection:
            tenant_lock(connection, tenant_id)
            published = after_append(connection, tenant_id, policy, now_us)
        if published is not None:
            signed[tenant_id] = published
    return signed


def publish_checkpoint(
    connection: Connection, tenant_id: int, signers: Sequence[NoteSigner], now_us: int
) -> PublishedCheckpoint:
    """Sign the log at its current size with every signer, and store the note; a
    `checkpoint.published` webhook goes out with it."""
    size = log.log_size(connection, tenant_id)
    body = Checkpoint(signers[0].name, size, log.root_at(connection, tenant_id, size))
    note = sign_note(body.body(), signers)
    existing = connection.execute(
        select(ledger_checkpoints.c.root_hash).where(
            ledger_checkpoints.c.tenant_id == tenant_id, ledger_checkpoints.c.size == size
        )
    ).scalar()
    if existing is None:
        connection.execute(
            ledger_checkpoints.insert().values(
                tenant_id=tenant_id,
                size=size,
                root_hash=body.root_hash,
                note=note,
                created_us=now_us,
            )
        )
    else:  # the same tree signed again (a key handover): one checkpoint, more signatures
        connection.execute(
            ledger_checkpoints.update()
            .where(ledger_checkpoints.c.tenant_id == tenant_id, ledger_checkpoints.c.size == size)
            .values(note=note, created_us=now_us)
        )
    published = PublishedCheckpoint(body, note, now_us)
    # A checkpoint is no leaf: `size` says which leaves it covers.
    data = {**checkpoint_json(published), "leaf_index": None}
    enqueue(connection, tenant_id, "checkpoint.published", data, now_us)
    return published


def rotate_key(
    connection: Connection, tenant_id: int, keyring: Keyring, passphrase: str | None, now_us: int
) -> PublishedCheckpoint:
    """Retire the active key for a new one, and sign a handover checkpoint with both.

    The new key takes the old one's name: a log's origin never changes, whatever the settings
    say now, or every verifier that follows it would see a second log.
    """
    previous = keyring.active_signer(connection, tenant_id)
    generate_key(connection, tenant_id, previous.name, passphrase, now_us)
    current = keyring.active_signer(connection, tenant_id)
    return publish_checkpoint(connection, tenant_id, [current, previous], now_us)


def latest_checkpoint(connection: Connection, tenant_id: int) -> PublishedCheckpoint | None:
    """The largest checkpoint the tenant has signed, if any."""
    largest = select(func.max(ledger_checkpoints.c.size)).where(
        ledger_checkpoints.c.tenant_id == tenant_id
    )
    size = connection.execute(largest).scalar()
    return None if size is None else checkpoint_at(connection, tenant_id, int(size))


def checkpoint_at(connection: Connection, tenant_id: int, size: int) -> PublishedCheckpoint:
    """The checkpoint signed at exactly `size`; NotFound if none was."""
    row = connection.execute(
        select(
            ledger_checkpoints.c.size,
            ledger_checkpoints.c.root_hash,
            ledger_checkpoints.c.note,
            ledger_checkpoints.c.created_us,
        ).where(ledger_checkpoints.c.tenant_id == tenant_id, ledger_checkpoints.c.size == size)
    ).first()
    if row is None:
        raise NotFound(f"no checkpoint was signed at size {size}")
    return _published(row.note, row.created_us)


def published_checkpoints(connection: Connection, tenant_id: int) -> list[PublishedCheckpoint]:
    """Every stored checkpoint, smallest first."""
    rows = connection.execute(
        select(ledger_checkpoints.c.note, ledger_checkpoints.c.created_us)
        .where(ledger_checkpoints.c.tenant_id == tenant_id)
        .order_by(ledger_checkpoints.c.size)
    )
    return [_published(row.note, row.created_us) for row in rows]


def checkpoint_json(published: PublishedCheckpoint) -> dict[str, object]:
    """A checkpoint as the API and the CLI print it."""
    checkpoint = published.checkpoint
    return {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
        "note": published.note,
        "signed_at": format_rfc3339(from_micros(published.created_us)),
    }


def _published(note: str, created_us: int) -> PublishedCheckpoint:
    return PublishedCheckpoint(parse_checkpoint(parse_note(note).text), note, created_us)
