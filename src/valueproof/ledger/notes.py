"""C2SP signed notes with Ed25519 keys: verifier keys, signing, parsing and opening notes.

A note is UTF-8 text ending in a newline, a blank line, then one signature line per key:
`— <key name> base64(4-byte key id || signature)`. Standard library and `cryptography` only: the
customer-side verifier opens our checkpoints with it. Spec: https://c2sp.org/signed-note
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from valueproof.ledger.errors import NoteError

__all__ = [
    "ED25519_TYPE",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Note",
    "NoteSigner",
    "Signature",
    "VerifierKey",
    "format_vkey",
    "open_note",
    "parse_note",
    "parse_vkey",
    "sign_note",
]

ED25519_TYPE = 0x01  # signed-note signature type identifier for Ed25519
# signed-note: verifiers SHOULD bound the signatures, and MUST accept at least 16. Go's x/mod
# stops at 100; so do we, and at a size no honest note comes near.
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20

_PUBLIC_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls other than newline
_HEX8 = re.compile(r"[0-9a-f]{8}")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A trusted public key: its name, and the key id that name and key determine."""

    name: str
    public_key: bytes
    key_id: int = field(init=False)

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _PUBLIC_KEY_SIZE:
            raise NoteError(f"an Ed25519 public key is {_PUBLIC_KEY_SIZE} bytes")
        object.__setattr__(self, "key_id", _key_id(self.name, self.public_key))

    @property
    def vkey(self) -> str:
        """The verifier key text: `<name>+<key id in hex>+<base64(0x01 || public key)>`."""
        encoded = base64.b64encode(bytes([ED25519_TYPE]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verifies(self, text: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's Ed25519 signature of `text`."""
        if len(signature) != _SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """A named Ed25519 private key that signs notes."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_key_name(self.name)

    @property
    def verifier(self) -> VerifierKey:
        """The public half, to hand to whoever verifies our notes."""
        public = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return VerifierKey(self.name, public)

    def sign(self, text: str) -> Signature:
        """This key's signature of a note text (checked by `sign_note`, not here)."""
        return Signature(self.name, self.verifier.key_id, self.private_key.sign(text.encode()))


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the key's name and id, and the algorithm's signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if not 0 <= self.key_id < 1 << 32:
            raise NoteError(f"key id {self.key_id} is not a 32-bit unsigned integer")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise NoteError("a signature is non-empty bytes")

    @property
    def line(self) -> str:
        """The signature line, newline included."""
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{_SIGNATURE_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note text (ending in a newline) and its signatures, verified or not as the maker says."""

    text: str
    signatures: tuple[Signature, ...]

    @property
    def message(self) -> str:
        """The signed note as it is served: text, blank line, signature lines."""
        return self.text + "\n" + "".join(signature.line for signature in self.signatures)


def format_vkey(name: str, public_key: bytes) -> str:
    """The verifier key text for a name and a raw 32-byte Ed25519 public key."""
    return VerifierKey(name, public_key).vkey


def parse_vkey(text: str) -> VerifierKey:
    """The key a verifier key text names; NoteError unless it is well formed and self-consistent."""
    if not isinstance(text, str):
        raise NoteError("a verifier key is text")
    name, plus, rest = text.partition("+")
    hex_id, plus_again, encoded = rest.partition("+")
    if not (plus and plus_again):
        raise NoteError("a verifier key reads <name>+<key id>+<base64 key>")
    _check_key_name(name)
    if _HEX8.fullmatch(hex_id) is None:
        raise NoteError(f"verifier key id {hex_id!r} is not 8 lowercase hex digits")
    raw = _decode_base64(encoded, "verifier key")
    if not raw or raw[0] != ED25519_TYPE:
        raise NoteError("verifier key is not an Ed25519 key (signature type 0x01)")
    key = VerifierKey(name, raw[1:])
    if key.key_id != int(hex_id, 16):
        raise NoteError(f"verifier key id {hex_id} does not match its name and public key")
    return key


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """The signed note for `text`, with one signature per signer, in the order given."""
    _check_text(text)
    if not signers:
        raise NoteError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    keys = [(signer.name, signer.verifier.key_id) for signer in signers]
    if len(set(keys)) != len(keys):
        raise NoteError("the same key is listed twice among the signers")
    message = Note(text, tuple(signer.sign(text) for signer in signers)).message
    if len(message.encode()) > MAX_NOTE_BYTES:
        raise NoteError(f"signed note exceeds {MAX_NOTE_BYTES} bytes")
    return message


def parse_note(message: bytes | str) -> Note:
    """A note's text and every signature it carries, none of them verified."""
    decoded = _decode_message(message)
    # signed-note: the text is separated from the signatures by the last empty line.
    split = decoded.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note has no signature lines, or its last line lacks a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note carries more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def open_note(message: bytes | str, verifiers: Iterable[VerifierKey]) -> Note:
    """The note with the signatures that verified; NoteError unless at least one did.

    signed-note: a signature from an unknown key (name and id not both matching a trusted key)
    is ignored; a signature from a known key that does not verify rejects the whole note.
    """
    note = parse_note(message)
    known = _index_verifiers(verifiers)
    text = note.text.encode()
    verified: dict[tuple[str, int], Signature] = {}
    for signature in note.signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            continue
        if not key.verifies(text, signature.signature):
            raise NoteError(
                f"invalid signature for key {signature.name}+{signature.key_id:08x}"
                " (the note or its signature was altered, or the key is not the signer's)"
            )
        verified.setdefault((signature.name, signature.key_id), signature)
    if not verified:
        names = ", ".join(f"{k.name}+{k.key_id:08x}" for k in known.values()) or "none"
        raise NoteError(f"note has no signature from a trusted key (trusted: {names})")
    return Note(note.text, tuple(verified.values()))


def _key_id(name: str, public_key: bytes) -> int:
    """signed-note: SHA-256(key name || 0x0A || 0x01 || public key)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _index_verifiers(verifiers: Iterable[VerifierKey]) -> dict[tuple[str, int], VerifierKey]:
    known: dict[tuple[str, int], VerifierKey] = {}
    for verifier in verifiers:
        if not isinstance(verifier, VerifierKey):
            raise NoteError("trusted keys must be VerifierKey values (see parse_vkey)")
        slot = (verifier.name, verifier.key_id)
        if known.setdefault(slot, verifier) != verifier:
            # Two different keys with one name and id: the trust list itself is wrong.
            raise NoteError(f"ambiguous trusted key {verifier.name}+{verifier.key_id:08x}")
    return known


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise NoteError("signature line does not start with an em dash and a space")
    name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise NoteError("signature line has no space between key name and signature")
    _check_key_name(name)
    raw = _decode_base64(encoded, f"signature of {name}")
    if len(raw) < 5:
        raise NoteError(f"signature of {name} is shorter than a key id and one byte")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def _decode_message(message: bytes | str) -> str:
    if isinstance(message, str):
        try:
            message = message.encode()
        except UnicodeEncodeError:
            raise NoteError("note is not valid UTF-8 (it holds a lone surrogate)") from None
    if not isinstance(message, bytes):
        raise NoteError("a note is bytes or text")
    if len(message) > MAX_NOTE_BYTES:
        raise NoteError(f"note exceeds {MAX_NOTE_BYTES} bytes")
    try:
        decoded = message.decode()
    except UnicodeDecodeError as error:
        raise NoteError(f"note is not valid UTF-8 (byte {error.start})") from None
    _check_characters(decoded, "note")
    return decoded


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise NoteError("a note text is a str")
    if not text.endswith("\n"):
        raise NoteError("a note text must end with a newline")
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise NoteError("note text is not valid UTF-8 (it holds a lone surrogate)") from None
    if size > MAX_NOTE_BYTES:
        raise NoteError(f"note text exceeds {MAX_NOTE_BYTES} bytes")
    _check_characters(text, "note text")


def _check_characters(text: str, what: str) -> None:
    control = _CONTROL.search(text)
    if control is not None:
        raise NoteError(
            f"{what} holds control character {ord(control.group()):#04x} at {control.start()}"
        )


def _check_key_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise NoteError("a key name is non-empty text")
    if "+" in name or any(character.isspace() for character in name):
        raise NoteError(f"key name {name!r} holds a space or a plus sign")
    _check_characters(name, "key name")
    try:
        name.encode()
    except UnicodeEncodeError:
        raise NoteError("key name is not valid UTF-8") from None


def _decode_base64(encoded: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    # Only the canonical spelling: two texts for the same bytes would make notes malleable.
    if base64.b64encode(raw).decode() != encoded:
        raise NoteError(f"{what} is not canonical base64")
    return raw
