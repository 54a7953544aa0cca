"""Tables of oracles: registered data sources, each metric's aggregation rule, and readings."""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from valueproof.store.schema import metadata

# A data source and the Ed25519 public key it signs readings with (raw 32 bytes, base64).
oracle_sources = Table(
    "oracle_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("definition", Text, nullable=False),  # canonical JSON of the source document
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "key"),
)

# How a metric's value is read from its sources (one agreed source, or a median of several).
oracle_metrics = Table(
    "oracle_metrics",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key"),
)

# Every accepted reading, as signed, with its leaf. A nonce is used once per source.
oracle_readings = Table(
    "oracle_readings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("source_id", Integer, ForeignKey("oracle_sources.id"), nullable=False),
    Column("metric", String(200), nullable=False),
    Column("value", String(40), nullable=False),  # the decimal text as signed
    Column("as_of_us", BigInteger, nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    Column("received_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "source_id", "nonce"),
    UniqueConstraint("tenant_id", "leaf_index"),
)
Index("ix_oracle_readings_metric", oracle_readings.c.tenant_id, oracle_readings.c.metric,
      oracle_readings.c.as_of_us)  # fmt: skip
