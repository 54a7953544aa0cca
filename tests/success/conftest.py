"""The contracts tests' tenant with meters, accounts and a contract to apply, for utilization."""

from ..contracts.conftest import priced

__all__ = ["priced"]
