"""Checkpoint signing keys: generated per tenant, stored encrypted, rotated without losing history.

A private key is kept only as PKCS#12 (PBKDF2-SHA256, AES-256-CBC) under the operator's
passphrase, a format OpenSSL reads. Retired keys keep their public half, so every checkpoint ever
signed stays verifiable; a rotation's first checkpoint is signed by both keys (a handover).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import Connection, select, update

from valueproof.errors import InvalidInput
from valueproof.ledger.errors import SigningKeyError
from valueproof.ledger.notes import NoteSigner, VerifierKey
from valueproof.ledger.tables import ledger_keys
from valueproof.periods import format_rfc3339, from_micros

__all__ = [
    "MIN_PASSPHRASE",
    "Keyring",
    "StoredKey",
    "check_passphrase",
    "generate_key",
    "key_json",
    "stored_keys",
]

# OWASP's 2023 floor for PBKDF2-HMAC-SHA256; opening a key costs ~0.1 s, once per process.
_KDF_ROUNDS = 600_000


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A tenant's signing key as the public may know it."""

    verifier: VerifierKey
    created_us: int
    retired_us: int | None

    @property
    def active(self) -> bool:
        return self.retired_us is None


class Keyring:
    """Opens tenants' signing keys with the passphrase, once per key for the process's life."""

    def __init__(self, passphrase: str | None) -> None:
        self._passphrase = passphrase.encode() if passphrase else None
        self._opened: dict[tuple[int, str], NoteSigner] = {}
        # A key the passphrase did not open stays refused: ingest must not pay the KDF per batch.
        self._refused: dict[tuple[int, str], SigningKeyError] = {}

    @property
    def can_sign(self) -> bool:
        return self._passphrase is not None

    def active_signer(self, connection: Connection, tenant_id: int) -> NoteSigner:
        """The tenant's active key, opened; SigningKeyError if there is none or it won't open."""
        row = connection.execute(
            select(
                ledger_keys.c.key_id, ledger_keys.c.name, ledger_keys.c.encrypted_private_key
            ).where(ledger_keys.c.tenant_id == tenant_id, ledger_keys.c.retired_us.is_(None))
        ).first()
        if row is None:
            raise SigningKeyError("no signing key: run `valueproof ledger keygen` first")
        slot = (tenant_id, row.key_id)
        cached = self._opened.get(slot)
        if cached is not None:
            return cached
        if slot in self._refused:
            raise self._refused[slot]
        try:
            private_key = _decrypt(bytes(row.encrypted_private_key), self._passphrase)
        except SigningKeyError as error:
            self._refused[slot] = error
            raise
        signer = NoteSigner(row.name, private_key)
        if _key_id_hex(signer.verifier) != row.key_id:
            raise SigningKeyError(f"stored key {row.key_id} does not match its private key")
        self._opened[slot] = signer
        return signer


# Characters a passphrase that seals a signing key must have at least: a few words. Shorter
# ones ("...", a PIN) fall to a dictionary search of the stored, encrypted key.
MIN_PASSPHRASE = 12


def check_passphrase(passphrase: str) -> None:
    """InvalidInput naming VALUEPROOF_LEDGER_PASSPHRASE unless it is long enough to seal a key
    (checked when a key is made or replaced; keys sealed before still open)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(
            "VALUEPROOF_LEDGER_PASSPHRASE",
            f"is {len(passphrase)} characters; a signing key needs a passphrase of at least "
            f"{MIN_PASSPHRASE} (a few words)",
        )


def generate_key(
    connection: Connection, tenant_id: int, name: str, passphrase: str | None, now_us: int
) -> StoredKey:
    """A new active signing key named `name` (the log's origin); the previous one is retired."""
    if not passphrase:
        raise SigningKeyError("a passphrase is required to store a signing key encrypted")
    check_passphrase(passphrase)
    private_key = Ed25519PrivateKey.generate()
    signer = NoteSigner(name, private_key)
    connection.execute(
        update(ledger_keys)
        .where(ledger_keys.c.tenant_id == tenant_id, ledger_keys.c.retired_us.is_(None))
        .values(retired_us=now_us)
    )
    connection.execute(
        ledger_keys.insert().values(
            tenant_id=tenant_id,
            key_id=_key_id_hex(signer.verifier),
            name=name,
            public_key=signer.verifier.public_key,
            encrypted_private_key=_encrypt(private_key, passphrase.encode()),
            created_us=now_us,
        )
    )
    return StoredKey(signer.verifier, now_us, None)


def stored_keys(connection: Connection, tenant_id: int) -> list[StoredKey]:
    """Every key the tenant has had, oldest first: what verifiers need for any checkpoint."""
    rows = connection.execute(
        select(
            ledger_keys.c.name,
            ledger_keys.c.public_key,
            ledger_keys.c.created_us,
            ledger_keys.c.retired_us,
        )
        .where(ledger_keys.c.tenant_id == tenant_id)
        .order_by(ledger_keys.c.created_us, ledger_keys.c.key_id)
    )
    return [
        StoredKey(VerifierKey(row.name, bytes(row.public_key)), row.created_us, row.retired_us)
        for row in rows
    ]


def key_json(key: StoredKey) -> dict[str, object]:
    """A key as the API and the CLI print it: the vkey is what customers verify with."""
    return {
        "vkey": key.verifier.vkey,
        "name": key.verifier.name,
        "key_id": _key_id_hex(key.verifier),
        "created_at": format_rfc3339(from_micros(key.created_us)),
        "retired_at": None
        if key.retired_us is None
        else format_rfc3339(from_micros(key.retired_us)),
    }


def _time(micros: int) -> str:
    return format_rfc3339(from_micros(micros))


def _key_id_hex(verifier: VerifierKey) -> str:
    return f"{verifier.key_id:08x}"


def _encrypt(private_key: Ed25519PrivateKey, passphrase: bytes) -> bytes:
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(b"valueproof", private_key, None, None, encryption)


def _decrypt(blob: bytes, passphrase: bytes | None) -> Ed25519PrivateKey:
    if passphrase is None:
        raise SigningKeyError("set VALUEPROOF_LEDGER_PASSPHRASE to open the signing key")
    try:
        private_key, _, _ = pkcs12.load_key_and_certificates(blob, passphrase)
    except ValueError:
        raise SigningKeyError("the passphrase does not open the signing key") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise SigningKeyError("the stored signing key is not an Ed25519 key")
    return private_key
