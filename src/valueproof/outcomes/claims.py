"""Outcome definitions and claims in the store: each definition version and each claim's
verdict is a ledger leaf, in the caller's transaction (which holds the tenant lock).

The one place to import them from: definitions in `definition_store`, taking claims in
`claim_intake`, claims as recorded (verdicts, leaves, reading back) in `claim_records`.
"""

from __future__ import annotations

from valueproof.outcomes.claim_intake import submit_claims
from valueproof.outcomes.claim_records import (
    OUTCOME_VERDICT,
    ClaimResult,
    StoredClaim,
    claim_json,
    claim_of_row,
    claim_result_json,
    claim_rows,
    commitment,
    stored_claim,
    verdict_leaf,
)
from valueproof.outcomes.definition_store import (
    OUTCOME_DEFINITION,
    Status,
    StoredDefinition,
    apply_definition,
    definition_json,
    definition_leaf,
    definitions,
    stored_definition,
)

__all__ = [
    "OUTCOME_DEFINITION",
    "OUTCOME_VERDICT",
    "ClaimResult",
    "Status",
    "StoredClaim",
    "StoredDefinition",
    "apply_definition",
    "claim_json",
    "claim_of_row",
    "claim_result_json",
    "claim_rows",
    "commitment",
    "definition_json",
    "definition_leaf",
    "definitions",
    "stored_claim",
    "stored_definition",
    "submit_claims",
    "verdict_leaf",
]
