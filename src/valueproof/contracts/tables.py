"""Tables of contracts: each contract, and every version of its document with its ledger leaf."""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from valueproof.store.schema import metadata

contracts = Table(
    "contracts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "key"),
)
Index("ix_contracts_account", contracts.c.tenant_id, contracts.c.account_id)

# Never updated: an amendment is a new row. `document` is the canonical JSON the leaf commits to.
contract_versions = Table(
    "contract_versions",
    metadata,
    Column("contract_id", Integer, ForeignKey("contracts.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("effective_us", BigInteger, nullable=False),
    Column("document", Text, nullable=False),
    Column("content_sha256", LargeBinary(32), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    UniqueConstraint("tenant_id", "leaf_index"),
)
