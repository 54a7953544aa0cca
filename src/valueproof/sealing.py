"""Secrets sealed at rest under the operator's passphrase (VALUEPROOF_LEDGER_PASSPHRASE).

AES-256-GCM under a key derived by scrypt (RFC 7914; N=2^15, r=8, p=1, ~32 MiB) from the
passphrase with a random 16-byte salt; a random 96-bit nonce; associated data chosen by the caller
(the row the secret belongs to), so a sealed secret copied to another row does not open. Salt and
nonce are stored beside the ciphertext. The callers (known-set secrets, webhook endpoint secrets)
own their tables and their errors; this module knows no SQL.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

__all__ = ["KDF", "PASSPHRASE_SETTING", "Sealed", "seal", "unseal"]

PASSPHRASE_SETTING = "VALUEPROOF_LEDGER_PASSPHRASE"
KDF = "scrypt-n32768-r8-p1"
_N, _R, _P = 2**15, 8, 1


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed secret as stored: the KDF's name and parameters, salt, nonce and ciphertext."""

    kdf: str
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_N, r=_R, p=_P).derive(passphrase.encode())


def seal(secret: bytes, passphrase: str, associated: bytes) -> Sealed:
    """`secret` sealed under `passphrase`, bound to `associated`."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    return Sealed(
        KDF, salt, nonce, AESGCM(_key(passphrase, salt)).encrypt(nonce, secret, associated)
    )


def unseal(sealed: Sealed, passphrase: str, associated: bytes) -> bytes | None:
    """The secret in clear; None when the passphrase (or the associated data) does not open it.

    ValueError for a KDF this version does not know: the caller names what it was opening.
    """
    if sealed.kdf != KDF:
        raise ValueError(f"the stored secret uses an unknown KDF {sealed.kdf!r}")
    key = _key(passphrase, sealed.salt)
    try:
        return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, associated)
    except InvalidTag:
        return None
