"""Dashboard sessions: a random token in the browser, its SHA-256 digest in `web_sessions`.

A session is opened with an API key and stands for it: it expires, it ends at sign-out, and it
ends when its key is revoked (or deleted with its account). The token never contains the key,
and the key is never kept: the session row points at the key's row. Like a key's secret, the
token is 256 random bits, so a fast digest is enough to store it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, or_, select, update

from valueproof.errors import Unauthenticated
from valueproof.tenancy.keys import Principal, key_principal, key_rows
from valueproof.tenancy.tables import api_keys, web_sessions

_PREFIX = "vps_"


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session. `token` goes to the browser once and is never stored."""

    token: str
    expires_us: int


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    connection: Connection, who: Principal, lifetime_us: int, now_us: int
) -> OpenedSession:
    """Open a session for the key `who` authenticated with, lasting `lifetime_us`.

    Also forgets the tenant's sessions that have ended, so the table holds live ones only.
    """
    connection.execute(
        delete(web_sessions).where(
            web_sessions.c.tenant_id == who.tenant_id,
            or_(web_sessions.c.expires_us <= now_us, web_sessions.c.revoked_us.is_not(None)),
        )
    )
    key_row = select(api_keys.c.id).where(
        api_keys.c.tenant_id == who.tenant_id, api_keys.c.key_id == who.key_id
    )
    token = _PREFIX + secrets.token_urlsafe(32)
    expires_us = now_us + lifetime_us
    connection.execute(
        insert(web_sessions).values(
            tenant_id=who.tenant_id,
            api_key_id=key_row.scalar_subquery(),
            token_sha256=_digest(token),
            created_us=now_us,
            expires_us=expires_us,
        )
    )
    return OpenedSession(token=token, expires_us=expires_us)


def session_principal(connection: Connection, token: str, now_us: int) -> Principal:
    """The principal of the key a live session was opened with, or Unauthenticated."""
    if not token.startswith(_PREFIX):
        raise Unauthenticated("malformed session")
    row = connection.execute(
        key_rows()
        .add_columns(
            web_sessions.c.tenant_id.label("session_tenant_id"),
            web_sessions.c.expires_us,
            web_sessions.c.revoked_us.label("session_revoked_us"),
        )
        .join(web_sessions, web_sessions.c.api_key_id == api_keys.c.id)
        .where(web_sessions.c.token_sha256 == _digest(token))
    ).one_or_none()
    if row is None or row.session_revoked_us is not None:
        raise Unauthenticated("unknown or ended session")
    if row.expires_us <= now_us:
        raise Unauthenticated("the session has expired")
    if row.session_tenant_id != row.tenant_id:  # a row written by hand; never by open_session
        raise Unauthenticated("unknown or ended session")
    return key_principal(row)


def end_session(connection: Connection, token: str, now_us: int) -> None:
    """End a session (sign-out); a token that names no live session is already ended."""
    connection.execute(
        update(web_sessions)
        .where(web_sessions.c.token_sha256 == _digest(token), web_sessions.c.revoked_us.is_(None))
        .values(revoked_us=now_us)
    )
