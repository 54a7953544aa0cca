"""A tenant's webhook endpoints: URL, event-type filter, enabled or disabled (and why), and the
signing secret, sealed under the ledger passphrase (`valueproof.sealing`) and shown once."""

from __future__ import annotations

import base64
import difflib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, delete, insert, select, update

from valueproof.periods import format_micros
from valueproof.sealing import PASSPHRASE_SETTING, Sealed, seal, unseal
from valueproof.webhooks.errors import (
    EndpointInvalid,
    EndpointNotFound,
    WebhookSecretUnavailable,
)
from valueproof.webhooks.outbox import EVENT_TYPES
from valueproof.webhooks.tables import webhook_endpoints

__all__ = [
    "Endpoint",
    "check_description",
    "check_event_types",
    "check_url",
    "create_endpoint",
    "endpoint",
    "endpoint_json",
    "endpoints",
    "open_secret",
    "remove_endpoint",
    "update_endpoint",
]

_MAX_URL = 2000
_MAX_DESCRIPTION = 500


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as stored, without its secret; `event_types` empty means every type."""

    id: int
    public_id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    failing_since_us: int | None
    created_us: int
    updated_us: int


def check_url(url: object) -> str:
    """An http or https URL with a host; EndpointInvalid naming `url` otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise EndpointInvalid("url", "must be an http or https URL")
    if len(url) > _MAX_URL or "\x00" in url:
        raise EndpointInvalid("url", f"must be at most {_MAX_URL} characters, without NUL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EndpointInvalid("url", f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if not parts.hostname:
        raise EndpointInvalid("url", "names no host")
    return url


def check_event_types(event_types: object) -> tuple[str, ...]:
    """Known event types, sorted and without repeats; empty for every type."""
    if not isinstance(event_types, list | tuple):
        raise EndpointInvalid("event_types", "must be a list of event types (empty: all)")
    for index, name in enumerate(event_types):
        if not isinstance(name, str) or name not in EVENT_TYPES:
            close = difflib.get_close_matches(str(name), EVENT_TYPES, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise EndpointInvalid(f"event_types[{index}]", f"unknown event type {name!r}{hint}")
    return tuple(sorted(set(event_types)))


def check_description(description: object) -> str:
    """A description: any text up to 500 characters, without NUL."""
    if not isinstance(description, str):
        raise EndpointInvalid("description", "must be a text")
    if len(description) > _MAX_DESCRIPTION or "\x00" in description:
        reason = f"must be at most {_MAX_DESCRIPTION} characters, without NUL"
        raise EndpointInvalid("description", reason)
    return description


def _aad(tenant_id: int, public_id: str) -> bytes:
    return f"valueproof webhook secret v1 tenant={tenant_id} endpoint={public_id}".encode()


def _require(passphrase: str | None) -> str:
    if not passphrase:
        raise WebhookSecretUnavailable(
            f"set {PASSPHRASE_SETTING}: webhook secrets are stored encrypted with it"
        )
    return passphrase


def create_endpoint(
    connection: Connection,
    tenant_id: int,
    url: str,
    event_types: Sequence[str],
    description: str,
    passphrase: str | None,
    now_us: int,
) -> tuple[Endpoint, str]:
    """Store a new enabled endpoint (inputs checked by the `check_*` functions); it and its
    secret `whsec_...`, the one time the secret is shown."""
    raw = secrets.token_bytes(24)
    public_id = f"ep_{secrets.token_hex(12)}"
    sealed = seal(raw, _require(passphrase), _aad(tenant_id, public_id))
    connection.execute(
        insert(webhook_endpoints).values(
            tenant_id=tenant_id,
            public_id=public_id,
            url=url,
            description=description,
            event_types=" ".join(event_types),
            enabled=True,
            disabled_reason=None,
            kdf=sealed.kdf,
            salt=sealed.salt,
            nonce=sealed.nonce,
            ciphertext=sealed.ciphertext,
            failing_since_us=None,
            created_us=now_us,
            updated_us=now_us,
        )
    )
    found = endpoint(connection, tenant_id, public_id)
    return found, "whsec_" + base64.b64encode(raw).decode()


def open_secret(row: Row[Any], passphrase: str | None) -> bytes:
    """The secret of an endpoint row in clear; WebhookSecretUnavailable when it does not open."""
    sealed = Sealed(row.kdf, bytes(row.salt), bytes(row.nonce), bytes(row.ciphertext))
    try:
        secret = unseal(sealed, _require(passphrase), _aad(row.tenant_id, row.public_id))
    except ValueError as error:
        raise WebhookSecretUnavailable(str(error)) from None
    if secret is None:
        raise WebhookSecretUnavailable(
            f"{PASSPHRASE_SETTING} does not open the secret of endpoint {row.public_id}"
        )
    return secret


def _endpoint(row: Row[Any]) -> Endpoint:
    return Endpoint(
        row.id,
        row.public_id,
        row.url,
        row.description,
        tuple(row.event_types.split()) if row.event_types else (),
        bool(row.enabled),
        row.disabled_reason,
        row.failing_since_us,
        row.created_us,
        row.updated_us,
    )


def endpoint(connection: Connection, tenant_id: int, public_id: str) -> Endpoint:
    """The tenant's endpoint `public_id`; EndpointNotFound otherwise."""
    e = webhook_endpoints.c
    row = connection.execute(
        select(webhook_endpoints).where(e.tenant_id == tenant_id, e.public_id == public_id)
    ).first()
    if row is None:
        raise EndpointNotFound(f"no webhook endpoint {public_id!r}")
    return _endpoint(row)


def endpoints(connection: Connection, tenant_id: int) -> list[Endpoint]:
    """The tenant's endpoints, oldest first."""
    e = webhook_endpoints.c
    rows = connection.execute(
        select(webhook_endpoints).where(e.tenant_id == tenant_id).order_by(e.id)
    )
    return [_endpoint(row) for row in rows]


def update_endpoint(
    connection: Connection,
    tenant_id: int,
    public_id: str,
    changes: dict[str, Any],
    now_us: int,
) -> Endpoint:
    """Apply checked changes (`url`, `event_types`, `enabled`, `description`); enabling an
    endpoint clears why it was disabled and its failure streak."""
    found = endpoint(connection, tenant_id, public_id)
    values: dict[str, Any] = {"updated_us": now_us}
    if "url" in changes:
        values["url"] = changes["url"]
    if "description" in changes:
        values["description"] = changes["description"]
    if "event_types" in changes:
        values["event_types"] = " ".join(changes["event_types"])
    if "enabled" in changes:
        values["enabled"] = changes["enabled"]
        if changes["enabled"]:
            values |= {"disabled_reason": None, "failing_since_us": None}
        elif found.enabled:
            values["disabled_reason"] = "disabled by hand"
    connection.execute(
        update(webhook_endpoints).where(webhook_endpoints.c.id == found.id).values(**values)
    )
    return endpoint(connection, tenant_id, public_id)


def remove_endpoint(connection: Connection, tenant_id: int, public_id: str) -> None:
    """Delete the endpoint, its deliveries and their attempts (messages stay for others)."""
    found = endpoint(connection, tenant_id, public_id)
    connection.execute(delete(webhook_endpoints).where(webhook_endpoints.c.id == found.id))


def endpoint_json(found: Endpoint) -> dict[str, Any]:
    """An endpoint as the API and `--json` print it (never its secret)."""
    return {
        "id": found.public_id,
        "url": found.url,
        "description": found.description,
        "event_types": list(found.event_types),
        "enabled": found.enabled,
        "disabled_reason": found.disabled_reason,
        "failing_since": None
        if found.failing_since_us is None
        else format_micros(found.failing_since_us),
        "created": format_micros(found.created_us),
        "updated": format_micros(found.updated_us),
    }
