"""A seeded sample book of business (accounts and two years of usage) for demos and tests."""

from valueproof.demo.accounts import AccountProfile, Archetype, DemoAccount
from valueproof.demo.book import BookSpec, demo_accounts, demo_events
from valueproof.demo.catalogue import EVENT_TYPES, METERS

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
