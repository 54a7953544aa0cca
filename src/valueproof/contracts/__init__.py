"""Executable contracts: documents, price components (pure), CEL conditions, and rating.

`validation.read_contract` reads a document, `registry.apply_contract` stores a version on the
ledger, `rating.rate` turns a period's data into charge lines, and `service` gathers that data
from the store (preview, the month-end run).
"""

from valueproof.contracts.errors import ContractInvalid, RatingError

__all__ = ["ContractInvalid", "RatingError"]
