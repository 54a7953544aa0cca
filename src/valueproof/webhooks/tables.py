"""Tables of the webhook outbox: endpoints, messages, deliveries (one per message and endpoint)
and the attempts of each delivery."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from valueproof.store.schema import metadata

# A tenant's receivers. The secret is sealed (valueproof.sealing) with the tenant id and the
# public id as associated data; `failing_since_us` is the oldest failed attempt since the last
# success, which disables the endpoint once it is old enough.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("public_id", String(40), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("event_types", Text, nullable=False),  # space-separated; empty: every type
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text),
    Column("kdf", String(40), nullable=False),
    Column("salt", LargeBinary(16), nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary(64), nullable=False),
    Column("failing_since_us", BigInteger),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    # enqueue's one query: the tenant's enabled endpoints
    Index("ix_webhook_endpoints_tenant_enabled", "tenant_id", "enabled"),
)

# One event as sent: the body is fixed when it is written, so every retry sends the same bytes.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Index("ix_webhook_messages_tenant_created", "tenant_id", "created_us"),
)

# A message to one endpoint: pending until a 2xx (delivered) or the last retry (failed). A worker
# claims a due row by setting `lease_until_us`; another worker skips it until the lease ends.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("message_id", String(40), ForeignKey("webhook_messages.id"), nullable=False),
    Column(
        "endpoint_id",
        Integer,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger),  # None once delivered or failed
    Column("lease_until_us", BigInteger),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("ix_webhook_deliveries_due", "next_attempt_us"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    Index("ix_webhook_deliveries_message", "message_id"),
)

# Every attempt: when, the status code or the error, how long it took, the response's first bytes.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        Integer,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempted_us", BigInteger, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_us", BigInteger, nullable=False),
    Column("response_head", Text, nullable=False),
)
