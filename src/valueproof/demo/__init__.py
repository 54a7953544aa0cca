"""A seeded sample book of business (accounts and two years of usage) for demos and tests."""

from valueproof.demo.book import (
    EVENT_TYPES,
    METERS,
    AccountProfile,
    Archetype,
    BookSpec,
    DemoAccount,
    demo_accounts,
    demo_events,
)

__all__ = [
    "EVENT_TYPES",
    "METERS",
    "AccountProfile",
    "Archetype",
    "BookSpec",
    "DemoAccount",
    "demo_accounts",
    "demo_events",
]
