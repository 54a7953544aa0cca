"""Tables of outcomes: oracle sources, metric rules and readings; definitions and claims."""

from sqlalchemy import (
    BigInteger,
    Boolean,
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
Index(
    "ix_oracle_readings_metric",
    oracle_readings.c.tenant_id,
    oracle_readings.c.metric,
    oracle_readings.c.as_of_us,
)

# Each version of an outcome definition, one per change of the document, each a ledger leaf.
outcome_definitions = Table(
    "outcome_definitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("contract", String(200), nullable=False),
    Column("outcome", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", Text, nullable=False),  # canonical JSON of the definition document
    Column("leaf_index", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "contract", "outcome", "version"),
    UniqueConstraint("tenant_id", "leaf_index"),
)

# Every claim taken, with its verdict (accepted or not) and the leaf that records it. The salts
# of personal attributes stay here: the leaf holds only their salted hashes.
outcome_claims = Table(
    "outcome_claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("claim_id", String(200), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("contract", String(200), nullable=False),
    Column("outcome", String(200), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("occurred_at_us", BigInteger, nullable=False),
    Column("submitted_at_us", BigInteger, nullable=False),
    Column("attributes", Text, nullable=False),  # JSON, as submitted
    Column("salts", Text, nullable=False),  # JSON {attribute: base64 salt} of committed ones
    Column("content_sha256", LargeBinary(32), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reasons", Text, nullable=False),  # JSON [{code, field, detail}]
    Column("dedupe_key_hash", String(64), nullable=True),  # sha256 hex: keys may be personal
    Column("leaf_index", BigInteger, nullable=False),
    # When an upheld dispute voided the outcome (outcomes.disputes); null while it stands.
    Column("voided_us", BigInteger, nullable=True),
    UniqueConstraint("tenant_id", "claim_id"),
    UniqueConstraint("tenant_id", "leaf_index"),
)
Index(
    "ix_outcome_claims_rating",
    outcome_claims.c.tenant_id,
    outcome_claims.c.account_id,
    outcome_claims.c.outcome,
    outcome_claims.c.occurred_at_us,
)
# Covering the dedupe lookup of ingestion (the first accepted claim with a key): without
# `accepted`, `leaf_index` and `claim_id` it visited every earlier claim with the key.
Index(
    "ix_outcome_claims_dedupe_first",
    outcome_claims.c.tenant_id,
    outcome_claims.c.contract,
    outcome_claims.c.outcome,
    outcome_claims.c.dedupe_key_hash,
    outcome_claims.c.accepted,
    outcome_claims.c.leaf_index,
    outcome_claims.c.claim_id,
)

# A customer account's known-set secret, encrypted: AES-256-GCM under a key derived with scrypt
# from the operator's passphrase (outcomes.knownset_store). Never stored or returned in clear.
known_set_secrets = Table(
    "known_set_secrets",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kdf", String(40), nullable=False),  # names the KDF and its parameters
    Column("salt", LargeBinary(16), nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary(64), nullable=False),  # 32-byte secret + 16-byte GCM tag
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "account_id"),
)

# The HMAC-SHA256 hashes a customer uploaded of what it already knows (outcomes.knownset).
known_set_hashes = Table(
    "known_set_hashes",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("hash", String(64), nullable=False),  # lowercase hex
    Column("added_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "account_id", "hash"),
)

# Each step of a dispute of an accepted outcome (opened by the customer, answered and resolved
# by the vendor), one row and one ledger leaf per step. A claim is disputed at most once.
outcome_dispute_steps = Table(
    "outcome_dispute_steps",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("claim_id", String(200), nullable=False),
    Column("seq", Integer, nullable=False),  # 1 opened, then answers, then the resolution
    Column("step", String(20), nullable=False),  # opened | answered | resolved
    Column("party", String(20), nullable=False),  # customer | vendor
    # The reason, the answer or the resolution's note: free text that may name people, so the
    # leaf holds only sha256(salt || text) and the salt stays here (as for personal attributes).
    Column("text", Text, nullable=False),
    Column("salt", LargeBinary(16), nullable=False),
    Column("resolution", String(20), nullable=True),  # upheld | rejected, on `resolved` only
    Column("at_us", BigInteger, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "claim_id", "seq"),
    UniqueConstraint("tenant_id", "leaf_index"),
)
