"""All settings in one place, read from `VALUEPROOF_*` environment variables (docs/settings.md)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration. Every field maps to `VALUEPROOF_<FIELD_NAME>`."""

    model_config = SettingsConfigDict(env_prefix="VALUEPROOF_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///valueproof.db",
        description="SQLAlchemy URL: SQLite (WAL) by default, postgresql+psycopg://... on servers.",
    )
    tenant: str = Field(default="demo", description="Tenant the CLI acts on without --tenant.")
    host: str = Field(default="127.0.0.1", description="Address `valueproof serve` binds.")
    port: int = Field(default=8000, description="Port `valueproof serve` binds.")
    max_batch_events: int = Field(
        default=10_000, ge=1, description="Most events accepted in one HTTP request."
    )
    max_request_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="Largest ingest request body in bytes."
    )
    max_future_seconds: int = Field(
        default=300,
        ge=0,
        description="Events stamped further than this into the future are rejected (clock skew).",
    )
    ingest_chunk_events: int = Field(
        default=5_000,
        ge=1,
        description="Events per transaction when ingesting files: the unit of acknowledgement.",
    )
    ledger_origin: str = Field(
        default="valueproof.localhost",
        pattern=r"^[A-Za-z0-9.\-]+(/[A-Za-z0-9.\-_]+)*$",
        description=(
            "The host (and path) the API is reached at, without the scheme: a new tenant's log "
            "origin is `<prefix>/tlog/<tenant>`, the URL prefix of its tiles."
        ),
    )
    ledger_passphrase: SecretStr | None = Field(
        default=None,
        description="Opens the checkpoint signing keys, the accounts' known-set secrets and the "
        "webhook endpoints' secrets, which are stored encrypted with it.",
    )
    checkpoint_interval_seconds: int = Field(
        default=0,
        ge=0,
        description="Sign a checkpoint at most this often; 0 signs one after every ingest batch.",
    )
    success_refresh_seconds: int = Field(
        default=60,
        ge=0,
        description="`serve` refreshes Customer Success (alerts, health) this often for the "
        "accounts with new usage, and every account once a day; 0 turns it off.",
    )
    billing_close_seconds: int = Field(
        default=3600,
        ge=0,
        description="`serve` closes every tenant's due billing periods (end plus grace passed) "
        "this often, as `valueproof billing close` does; 0 turns it off (close from cron).",
    )
    webhook_delivery_seconds: float = Field(
        default=1,
        ge=0,
        description="`serve` delivers due webhooks this often (and at once while more are due); "
        "0 turns it off. Delivery opens endpoint secrets with the ledger passphrase.",
    )
    webhook_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=60,
        description="A webhook attempt without a response in this time has failed.",
    )
    webhook_disable_after_days: float = Field(
        default=5,
        gt=0,
        description="An endpoint whose deliveries have all failed for this long, counted from "
        "the first failure since its last success, is disabled.",
    )
    web_session_hours: int = Field(
        default=12,
        ge=1,
        le=24 * 30,
        description="A dashboard sign-in lasts this long; signing out or revoking its API key "
        "ends it sooner.",
    )
    stripe_api_key: SecretStr | None = Field(
        default=None,
        description="The Stripe secret key payment hand-off uses (`sk_test_...` for test mode); "
        "unset: invoices are not pushed to Stripe.",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        description="The signing secret (`whsec_...`) of the Stripe webhook endpoint "
        "`/v1/integrations/stripe/webhook`; unset: that endpoint refuses every event.",
    )
    stripe_api_base: str = Field(
        default="https://api.stripe.com",
        pattern=r"^https?://[^\s/]+$",
        description="Where the Stripe API is reached: Stripe's own, or a stand-in for tests.",
    )
    stripe_automatic_tax: bool = Field(
        default=False,
        description="Ask Stripe Tax to compute the tax of pushed invoices "
        "(`automatic_tax[enabled]=true`); invoices that carry their own taxes are then refused.",
    )
    stripe_collection_method: Literal["charge_automatically", "send_invoice"] = Field(
        default="charge_automatically",
        description="How Stripe collects a pushed invoice: charge the customer's default payment "
        "method, or email the invoice, due after the tenant's payment terms.",
    )
    stripe_push_seconds: int = Field(
        default=0,
        ge=0,
        description="`serve` pushes every tenant's finalized invoices to Stripe this often; "
        "0 turns it off (then run `valueproof stripe push`).",
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
