"""Where an account's known set lives: its secret, encrypted at rest, and its uploaded hashes.

The secret (outcomes.knownset) is sealed by `valueproof.sealing` under the operator's passphrase
(VALUEPROOF_LEDGER_PASSPHRASE), with the tenant and account ids as associated data, so a sealed
secret copied to another account's row does not open. Nothing here returns the secret except to
the verifier (`KnownSets`).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from valueproof.outcomes.errors import KnownSetUnavailable
from valueproof.outcomes.knownset import MAX_SECRET_SIZE, MIN_SECRET_SIZE, hasher
from valueproof.outcomes.tables import known_set_hashes, known_set_secrets
from valueproof.sealing import PASSPHRASE_SETTING, Sealed, seal, unseal

__all__ = [
    "PASSPHRASE_SETTING",
    "KnownSetCheck",
    "KnownSetStatus",
    "KnownSets",
    "add_hashes",
    "known_set_status",
    "open_secret",
    "set_secret",
]

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class KnownSetStatus:
    """What anyone may learn of a known set: its size and whether a secret is stored."""

    count: int
    secret_set: bool


@dataclass(frozen=True, slots=True)
class KnownSetCheck:
    """What the verifier needs for one account: `verify(known_hash_of=..., is_known=...)`."""

    hash_of: Callable[[str], str]
    holds: Callable[[str], bool]


def _aad(tenant_id: int, account_id: int) -> bytes:
    return f"valueproof known-set secret v1 tenant={tenant_id} account={account_id}".encode()


def _require(passphrase: str | None) -> str:
    if not passphrase:
        raise KnownSetUnavailable(
            f"set {PASSPHRASE_SETTING}: known-set secrets are stored encrypted with it"
        )
    return passphrase


def open_secret(
    connection: Connection, tenant_id: int, account_id: int, passphrase: str | None
) -> bytes | None:
    """The account's secret in clear, None when none is stored; KnownSetUnavailable when the
    passphrase is missing or does not open it."""
    row = connection.execute(
        select(known_set_secrets).where(
            known_set_secrets.c.tenant_id == tenant_id,
            known_set_secrets.c.account_id == account_id,
        )
    ).first()
    if row is None:
        return None
    sealed = Sealed(row.kdf, bytes(row.salt), bytes(row.nonce), bytes(row.ciphertext))
    try:
        secret = unseal(sealed, _require(passphrase), _aad(tenant_id, account_id))
    except ValueError as error:
        raise KnownSetUnavailable(str(error)) from None
    if secret is None:
        raise KnownSetUnavailable(
            f"{PASSPHRASE_SETTING} does not open this account's known-set secret"
        )
    return secret


def set_secret(
    connection: Connection,
    tenant_id: int,
    account_id: int,
    secret: bytes,
    passphrase: str | None,
    now_us: int,
) -> int:
    """Store the account's secret sealed; the number of hashes dropped.

    A first secret keeps hashes uploaded before it. Replacing a secret with a different one makes
    the uploaded hashes useless (keyed with the old one), so they are deleted and the customer
    uploads its list again; the same secret again changes nothing.
    """
    if not MIN_SECRET_SIZE <= len(secret) <= MAX_SECRET_SIZE:
        raise ValueError(f"a known-set secret is {MIN_SECRET_SIZE} to {MAX_SECRET_SIZE} bytes")
    sealing = _require(passphrase)
    current = open_secret(connection, tenant_id, account_id, sealing)
    if current is not None and hmac.compare_digest(current, secret):
        return 0
    sealed = seal(secret, sealing, _aad(tenant_id, account_id))
    values = {
        "kdf": sealed.kdf,
        "salt": sealed.salt,
        "nonce": sealed.nonce,
        "ciphertext": sealed.ciphertext,
        "updated_us": now_us,
    }
    if current is None:
        connection.execute(
            insert(known_set_secrets).values(
                tenant_id=tenant_id, account_id=account_id, created_us=now_us, **values
            )
        )
        return 0  # hashes uploaded before the first secret are kept: made with this one
    connection.execute(
        update(known_set_secrets)
        .where(
            known_set_secrets.c.tenant_id == tenant_id,
            known_set_secrets.c.account_id == account_id,
        )
        .values(**values)
    )
    dropped = connection.execute(
        delete(known_set_hashes).where(
            known_set_hashes.c.tenant_id == tenant_id, known_set_hashes.c.account_id == account_id
        )
    )
    return int(dropped.rowcount or 0)


def add_hashes(
    connection: Connection, tenant_id: int, account_id: int, hashes: Iterable[str], now_us: int
) -> int:
    """Add parsed hashes (knownset.parse_known_hashes) to the set; how many were new.

    The caller holds the tenant lock, so no other upload races between the look and the insert.
    """
    wanted = sorted(set(hashes))
    t = known_set_hashes.c
    added = 0
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        present = set(
            connection.execute(
                select(t.hash).where(
                    t.tenant_id == tenant_id, t.account_id == account_id, t.hash.in_(chunk)
                )
            ).scalars()
        )
        new = [h for h in chunk if h not in present]
        if new:
            connection.execute(
                insert(known_set_hashes),
                [
                    {
                        "tenant_id": tenant_id,
                        "account_id": account_id,
                        "hash": h,
                        "added_us": now_us,
                    }
                    for h in new
                ],
            )
        added += len(new)
    return added


def known_set_status(connection: Connection, tenant_id: int, account_id: int) -> KnownSetStatus:
    """The size of the account's known set and whether its secret is stored."""
    t = known_set_hashes.c
    count = connection.execute(
        select(func.count()).where(t.tenant_id == tenant_id, t.account_id == account_id)
    ).scalar_one()
    secret = connection.execute(
        select(known_set_secrets.c.account_id).where(
            known_set_secrets.c.tenant_id == tenant_id,
            known_set_secrets.c.account_id == account_id,
        )
    ).first()
    return KnownSetStatus(int(count), secret is not None)


def _holds(connection: Connection, tenant_id: int, account_id: int) -> Callable[[str], bool]:
    t = known_set_hashes.c

    # A point lookup on the primary key: a set of millions need not be loaded per batch.
    def holds(known_hash: str) -> bool:
        found = connection.execute(
            select(t.hash).where(
                t.tenant_id == tenant_id, t.account_id == account_id, t.hash == known_hash
            )
        ).first()
        return found is not None

    return holds


class KnownSets:
    """The known sets of one batch's accounts, each opened at most once (one KDF per account)."""

    def __init__(self, connection: Connection, tenant_id: int, passphrase: str | None) -> None:
        self._connection = connection
        self._tenant_id = tenant_id
        self._passphrase = passphrase
        self._opened: dict[int, KnownSetCheck | KnownSetUnavailable | None] = {}

    def check(self, account_id: int) -> KnownSetCheck | None:
        """The account's check; None when it has no known set; KnownSetUnavailable when it has
        one that cannot be used (claims must then wait rather than pass unchecked)."""
        if account_id not in self._opened:
            self._opened[account_id] = self._open(account_id)
        found = self._opened[account_id]
        if isinstance(found, KnownSetUnavailable):
            raise found
        return found

    def _open(self, account_id: int) -> KnownSetCheck | KnownSetUnavailable | None:
        try:
            secret = open_secret(self._connection, self._tenant_id, account_id, self._passphrase)
        except KnownSetUnavailable as error:
            return error
        if secret is None:
            status = known_set_status(self._connection, self._tenant_id, account_id)
            if status.count:
                return KnownSetUnavailable(
                    "the customer uploaded a known set but no secret to hash claims with"
                )
            return None
        holds = _holds(self._connection, self._tenant_id, account_id)
        return KnownSetCheck(hasher(secret), holds)
