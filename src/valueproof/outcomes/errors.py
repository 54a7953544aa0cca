"""What the outcomes domain refuses: definitions, known sets and oracle readings, each error
naming the field at fault."""

from __future__ import annotations

from valueproof.errors import Conflict, DocumentInvalid, InvalidInput

__all__ = [
    "DefinitionInvalid",
    "KnownSetInvalid",
    "KnownSetUnavailable",
    "KnownSetUploadInvalid",
    "ReadingRefused",
]


class DefinitionInvalid(DocumentInvalid):
    """An outcome definition that cannot be used; `problems` lists every (field path, reason)."""

    title = "Invalid outcome definition"


class KnownSetInvalid(InvalidInput):
    """An uploaded known set or a secret that is malformed; `field` names the line or the secret."""

    title = "Invalid known set"


class KnownSetUploadInvalid(DocumentInvalid):
    """An uploaded known set with bad lines; `problems` names each (up to a hundred)."""

    title = "Invalid known set"


class KnownSetUnavailable(Conflict):
    """The account's known set cannot be used: no passphrase, a wrong one, or hashes without a
    secret to hash claims with."""

    title = "Known set unavailable"


class ReadingRefused(InvalidInput):
    """A reading that is malformed, not signed by its source, or not current; `field` names why."""

    title = "Reading refused"
