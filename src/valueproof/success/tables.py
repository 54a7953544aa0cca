"""Tables of Customer Success: settings documents, alerts, health scores, segments, seasonal
profiles, engagements, the vendor's driver series and success-plan actions. Analytics, not money:
floats are fine."""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from valueproof.store.schema import metadata

# A tenant's settings documents by key (`alerts`, `scorecards`, `segments`), canonical JSON.
success_settings = Table(
    "success_settings",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("key", String(40), nullable=False),
    Column("document", Text, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key"),
)

# Alerts: at most one not yet resolved per account, type and reason (updated, never repeated).
success_alerts = Table(
    "success_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("reason", String(200), nullable=False),  # what it is about: a meter, a component
    Column("status", String(20), nullable=False),  # open | snoozed | resolved
    Column("severity", String(20), nullable=False),  # info | warning | critical
    Column("message", Text, nullable=False),
    Column("numbers", Text, nullable=False),  # JSON: what triggered it, as last seen
    Column("opened_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("times_seen", Integer, nullable=False),
    Column("snoozed_until_us", BigInteger, nullable=True),
    Column("resolved_us", BigInteger, nullable=True),
    Column("resolution", String(40), nullable=True),  # cleared | dismissed
)
Index(
    "uq_success_alerts_live",
    success_alerts.c.tenant_id,
    success_alerts.c.account_id,
    success_alerts.c.type,
    success_alerts.c.reason,
    unique=True,
    sqlite_where=text("status != 'resolved'"),
    postgresql_where=text("status != 'resolved'"),
)
Index(
    "ix_success_alerts_queue",
    success_alerts.c.tenant_id,
    success_alerts.c.status,
    success_alerts.c.updated_us,
)

# Each health score computed, so a score's trend against the previous one can be shown.
success_health = Table(
    "success_health",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("scored_us", BigInteger, nullable=False),
    Column("score", Float, nullable=True),  # null when no measure was available
    Column("band", String(40), nullable=True),
    Column("scorecard", String(200), nullable=False),
    Column("breakdown", Text, nullable=False),  # JSON: each measure's value, points, weight
    PrimaryKeyConstraint("tenant_id", "account_id", "scored_us"),
)

# An account's segment of each kind (a rule's or a usage cluster's), with its explanation.
success_segments = Table(
    "success_segments",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # rule | usage
    Column("segment", String(200), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("computed_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "account_id", "kind"),
)

# An account's seasonal profile per meter as last detected (periods and strengths), as JSON.
success_profiles = Table(
    "success_profiles",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("meter", String(200), nullable=False),
    Column("document", Text, nullable=False),
    Column("computed_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "account_id", "meter"),
)

# A CSM's engagements with an account (calls, meetings, reviews): health measures recency.
success_engagements = Table(
    "success_engagements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("by", String(200), nullable=False),
    Column("note", Text, nullable=False),
)
Index(
    "ix_success_engagements_account",
    success_engagements.c.tenant_id,
    success_engagements.c.account_id,
    success_engagements.c.at_us,
)

# Driver series the vendor supplies per account (e.g. the customer's own order volume), daily.
success_drivers = Table(
    "success_drivers",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("driver", String(200), nullable=False),
    Column("day", Integer, nullable=False),  # days since 1970-01-01
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("tenant_id", "account_id", "driver", "day"),
)

# Every version of every success-plan action (success.plans): a change is a new version and a
# ledger leaf, so a plan's state at any past time can be shown.
success_plan_actions = Table(
    "success_plan_actions",
    metadata,
    Column("tenant_id", Integer, ForeignKey("tenants.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("action", String(200), nullable=False),  # the action's key, unique per account
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),  # canonical JSON of the action at this version
    Column("changed_by", String(20), nullable=False),  # customer | vendor
    Column("changed_us", BigInteger, nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "account_id", "action", "version"),
    UniqueConstraint("tenant_id", "leaf_index"),
)
