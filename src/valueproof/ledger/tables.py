"""Tables of the per-tenant transparency logs: size, tiles, entry bundles, checkpoints, keys."""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

from valueproof.store.schema import metadata

# One row per tenant: how many leaves its log holds. Writers hold the tenant lock to change it.
ledger_logs = Table(
    "ledger_logs",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
)

# tlog-tiles hash tiles with their inner levels (tiles.Tile.pack); a full tile never changes.
ledger_tiles = Table(
    "ledger_tiles",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("tile_level", SmallInteger, nullable=False),
    Column("tile_index", BigInteger, nullable=False),
    Column("width", SmallInteger, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "tile_level", "tile_index"),
)

# tlog-tiles entry bundles: up to 256 canonical leaves, each prefixed by its uint16 length.
ledger_bundles = Table(
    "ledger_bundles",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("bundle_index", BigInteger, nullable=False),
    Column("width", SmallInteger, nullable=False),
    Column("entries", LargeBinary, nullable=False),
    PrimaryKeyConstraint("tenant_id", "bundle_index"),
)

# Every signed checkpoint, as the C2SP signed note that was published.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "size"),
)

# Checkpoint signing keys: the private key only as encrypted PKCS#8; retired keys stay for
# verifying the checkpoints they signed.
ledger_keys = Table(
    "ledger_keys",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("name", String(200), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("encrypted_private_key", LargeBinary, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("retired_us", BigInteger),
    PrimaryKeyConstraint("tenant_id", "key_id"),
)
