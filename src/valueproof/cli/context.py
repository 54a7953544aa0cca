"""What every command acts on: the settings (with `--database-url` applied), one engine for the
whole invocation, and the tenant named by `--tenant`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy import Engine

from valueproof.config import Settings
from valueproof.errors import InvalidInput
from valueproof.store import connect_engine, read
from valueproof.tenancy.tenants import Tenant, get_tenant

if TYPE_CHECKING:
    from valueproof.ledger.keyring import Keyring

TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        metavar="SLUG",
        help="Tenant to act on (default: VALUEPROOF_TENANT, else demo).",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class Invocation:
    """The configuration and database of one run of the CLI."""

    config: Settings
    engine: Engine


def open_invocation(ctx: typer.Context, database_url: str | None) -> None:
    """Attach an Invocation to the root context; its engine is disposed when the command ends.

    The engine connects lazily, so commands that never touch the database never connect.
    """
    config = Settings()  # read afresh: each run of the CLI sees the environment it was given
    if database_url is not None:
        config = config.model_copy(update={"database_url": database_url})
    engine = connect_engine(config.database_url)
    ctx.call_on_close(engine.dispose)
    ctx.obj = Invocation(config=config, engine=engine)


def invocation(ctx: typer.Context) -> Invocation:
    """The Invocation the root callback attached."""
    found = ctx.find_object(Invocation)
    if found is None:
        raise RuntimeError("the root callback did not run: invoke commands through `app`")
    return found


def engine_of(ctx: typer.Context) -> Engine:
    """The engine of this invocation."""
    return invocation(ctx).engine


def tenant_of(ctx: typer.Context, slug: str | None) -> Tenant:
    """The tenant `slug` names (default: the configured one), or NotFound."""
    here = invocation(ctx)
    with read(here.engine) as connection:
        return get_tenant(connection, slug or here.config.tenant)


def keyring_of(ctx: typer.Context) -> Keyring:
    """The checkpoint keys, opened with the configured passphrase when they are needed."""
    # Imported here: the key store's cryptography (PKCS#12, X.509) is for commands that sign.
    from valueproof.ledger.keyring import Keyring

    config = invocation(ctx).config
    secret = config.ledger_passphrase
    return Keyring(secret.get_secret_value() if secret is not None else None)


def file_argument(help_text: str) -> Any:
    """The FILE argument of commands that read a file: it must exist and not be a folder."""
    return typer.Argument(metavar="FILE", exists=True, dir_okay=False, help=help_text)


def read_text(path: Path, field: str) -> str:
    """A file the user named, as UTF-8 text; InvalidInput naming `field` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(field, f"reading {path.name} failed: {error}") from None
