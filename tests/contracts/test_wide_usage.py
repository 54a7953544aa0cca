"""Rating usage past 2**63 micro-units (9.22 x 10**12 units), both backends: the quantity rating
reads from the rollups, and the line priced from it, are exact."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from valueproof.contracts.service import preview
from valueproof.store import read

from .conftest import Priced, contract_document

NOW = datetime(2026, 11, 16, tzinfo=UTC)


def payment(number: int, amount: Any, day: int) -> dict[str, Any]:
    return {
        "id": f"pay-{number}",
        "account": "acme",
        "type": "payment",
        "timestamp": f"2026-11-{day:02d}T10:00:00Z",
        "properties": {"amount": amount},
    }


def test_a_volume_past_the_bigint_edge_rates_exactly(priced: Priced) -> None:
    volume = {"id": "volume", "type": "per_unit", "meter": "payments", "unit_price": "0.01"}
    priced.apply(contract_document(components=[volume]))
    # 9e12 + 9e12 + 0.25 in one hour, each its own batch (the rollup adds in place), and one
    # more 9e12 the next day: the month's hours add up past 2**63 micro-units too.
    for number, (amount, day) in enumerate([(9e12, 3), (9e12, 3), (0.25, 3), (9e12, 4)]):
        priced.ingest([payment(number, amount, day)])
    with read(priced.engine) as connection:
        seen = preview(connection, priced.tenant.id, "acme", NOW)
    quantity = Decimal("27000000000000.25")
    assert seen.usage["payments"].total == quantity
    [line] = [ln for ln in seen.charges.lines if ln.component == "volume"]
    assert line.quantity == quantity
    assert line.amount == Decimal("270000000000.00")  # 0.0025 rounds half-even to 0.00
