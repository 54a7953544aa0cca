"""Tenants (vendors using valueproof), their API keys, and their customer accounts."""

from valueproof.tenancy.accounts import Account, AccountPatch
from valueproof.tenancy.keys import Principal, Scope, authenticate, create_api_key
from valueproof.tenancy.tenants import Tenant, create_tenant, get_tenant

__all__ = [
    "Account",
    "AccountPatch",
    "Principal",
    "Scope",
    "Tenant",
    "authenticate",
    "create_api_key",
    "create_tenant",
    "get_tenant",
]
