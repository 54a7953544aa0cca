"""Tables of metering: event types, meters, the event store and the hourly rollups.

Instants are BIGINT microseconds since the epoch and hours are BIGINT hours since the epoch, so
both dialects compare and bucket them the same way. Quantities are BIGINT micro-units: exact
decimals with six fractional digits (see `metering.quantities`); their sums in the rollups are
two BIGINT words that cannot overflow (see `metering.sums`).
"""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from valueproof.store.schema import metadata

event_types = Table(
    "event_types",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("properties", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "key"),
)

meters = Table(
    "meters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "key"),
)

# The order events were accepted in, across tenants. PostgreSQL draws it from this sequence; on
# SQLite `seq` is an INTEGER PRIMARY KEY, the rowid itself, which saves an index on the hot path.
events_seq = Sequence("events_seq", metadata=metadata)

# One row per event ever accepted, including voids and amendments; never updated except to mark
# the row that a later correction superseded.
events = Table(
    "events",
    metadata,
    Column(
        "seq",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("type", String(200), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("properties", Text, nullable=False),
    Column("value_micros", BigInteger),
    Column("corrects", String(200)),
    Column("correction", String(10)),
    Column("superseded_by", String(200)),
    Column("content_sha256", LargeBinary(32), nullable=False),
    Column("received_us", BigInteger, nullable=False),
    Column("leaf_index", BigInteger),  # its leaf on the tenant's ledger (ledger.log)
    UniqueConstraint("tenant_id", "event_id"),
    UniqueConstraint("tenant_id", "leaf_index"),
)
Index("ix_events_series", events.c.tenant_id, events.c.account_id, events.c.type, events.c.ts_us)

# Hourly aggregates per meter, account and group-by values (`dims`: canonical JSON object). A
# meter fills only the columns its aggregation needs. The hour precedes dims in the key so that
# one account's window is a single range seek.
rollups = Table(
    "rollups",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("meter_id", Integer, ForeignKey("meters.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("dims", String(1000), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("sum_high", BigInteger, nullable=False),
    Column("sum_low", BigInteger, nullable=False),
    Column("min_micros", BigInteger),
    Column("max_micros", BigInteger),
    Column("latest_ts_us", BigInteger),
    Column("latest_seq", BigInteger),
    Column("latest_micros", BigInteger),
    # The lowest and highest ledger leaf among the bucket's events: where rating's provenance
    # tells a verifier to look. Null for a bucket folded before the ledger existed.
    Column("first_leaf", BigInteger),
    Column("last_leaf", BigInteger),
    PrimaryKeyConstraint("tenant_id", "meter_id", "account_id", "hour", "dims"),
)
# Queries across all accounts (the dashboard, month-end totals) go straight to their window.
Index("ix_rollups_window", rollups.c.tenant_id, rollups.c.meter_id, rollups.c.hour)

# The same aggregates per calendar month (UTC), kept beside the hourly ones at ingest: a billing
# period of whole months reads one row per account and group instead of ~720. `month` counts
# months since year 0 (year * 12 + month - 1), first in the key so that one month of every
# account is a single range. Distinct values and gauge readings stay hourly only.
rollups_monthly = Table(
    "rollups_monthly",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("meter_id", Integer, ForeignKey("meters.id"), nullable=False),
    Column("month", Integer, nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("dims", String(1000), nullable=False),
    Column("event_count", BigInteger, nullable=False),
    Column("sum_high", BigInteger, nullable=False),
    Column("sum_low", BigInteger, nullable=False),
    Column("min_micros", BigInteger),
    Column("max_micros", BigInteger),
    Column("latest_ts_us", BigInteger),
    Column("latest_seq", BigInteger),
    Column("latest_micros", BigInteger),
    Column("first_leaf", BigInteger),
    Column("last_leaf", BigInteger),
    PrimaryKeyConstraint("tenant_id", "meter_id", "month", "account_id", "dims"),
)

# Distinct values per hour for `unique_count` meters: distinct counts do not add across hours.
rollup_distinct = Table(
    "rollup_distinct",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("meter_id", Integer, ForeignKey("meters.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("dims", String(1000), nullable=False),
    Column("hour", BigInteger, nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("tenant_id", "meter_id", "account_id", "hour", "dims", "value"),
)

# The readings of `time_weighted_sum` meters: a level that holds until the next reading.
gauge_points = Table(
    "gauge_points",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("meter_id", Integer, ForeignKey("meters.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("dims", String(1000), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("level_micros", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "meter_id", "account_id", "dims", "ts_us", "seq"),
)
