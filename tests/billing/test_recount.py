"""Rating inputs rebuilt from proven records: for any events, voids and amendments, the recount
is what counting the events in force in the period by hand gives, whatever their order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from valueproof.billing.recount import Record, rating_input
from valueproof.contracts.validation import parse_contract
from valueproof.metering.definitions import Meter
from valueproof.metering.records import USAGE_EVENT
from valueproof.periods import billing_period_at

CONTRACT = parse_contract(
    {
        "contract": "acme-2026",
        "account": "acme",
        "currency": "USD",
        "term": {"start": "2026-01-01", "end": "2027-01-01"},
        "components": [
            {"id": "api", "type": "per_unit", "meter": "calls", "unit_price": "0.01"},
            {"id": "storage", "type": "per_unit", "meter": "gigabytes", "unit_price": "0.25"},
        ],
    }
)
PERIOD = billing_period_at(
    CONTRACT.term.start,
    CONTRACT.term.end,
    CONTRACT.billing.period,
    CONTRACT.billing.anchor_day,
    datetime(2026, 11, 5, tzinfo=UTC),
)
METERS = {
    "calls": Meter(key="calls", event_type="api.call", aggregation="count", group_by=["region"]),
    "gigabytes": Meter(
        key="gigabytes", event_type="upload", aggregation="sum", value_property="size"
    ),
}
STATED: dict[str, Any] = {
    "meters": {key: meter.model_dump(mode="json") for key, meter in METERS.items()},
    "usage": {},
    "account": {},
    "wallet_history": [],
    "outcome_credits": {},
    "readings": {},
    "flags": {},
}
DAYS = ("2026-10-31T23:59:59Z", "2026-11-01T00:00:00Z", "2026-11-17T08:30:00Z")
DAYS += ("2026-11-30T23:59:59.999999Z", "2026-12-01T00:00:00Z")


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Calls and uploads, some voided or amended by later events."""
    made: list[dict[str, Any]] = []
    for number in range(draw(st.integers(min_value=0, max_value=25))):
        upload = draw(st.booleans())
        record: dict[str, Any] = {
            "id": f"e{number}",
            "account": "acme",
            "type": "upload" if upload else "api.call",
            "timestamp": draw(st.sampled_from(DAYS)),
            "properties": (
                {"size": float(draw(st.integers(min_value=0, max_value=10**6)) / 1000)}
                if upload
                else {"region": draw(st.sampled_from(["eu", "us"]))}
            ),
        }
        open_targets = [
            e["id"]
            for e in made
            if e["type"] == record["type"]
            and "voids" not in e
            and not any(e["id"] in (o.get("voids"), o.get("amends")) for o in made)
        ]
        if open_targets and draw(st.booleans()):
            correction = draw(st.sampled_from(["voids", "amends"]))
            record[correction] = draw(st.sampled_from(open_targets))
        made.append(record)
    return made


def by_hand(history: list[dict[str, Any]]) -> tuple[dict[str, int], Decimal]:
    superseded = {e.get("voids") or e.get("amends") for e in history}
    counted = [
        e
        for e in history
        if "voids" not in e
        and e["id"] not in superseded
        and "2026-11-01" <= e["timestamp"][:10] <= "2026-11-30"
    ]
    calls: dict[str, int] = {}
    size = Decimal(0)
    for e in counted:
        if e["type"] == "api.call":
            region = e["properties"]["region"]
            calls[region] = calls.get(region, 0) + 1
        else:
            size += Decimal(str(e["properties"]["size"]))
    return calls, size


@given(histories(), st.randoms())
def test_the_recount_is_the_events_in_force_counted_by_hand(
    history: list[dict[str, Any]], shuffle: Any
) -> None:
    records = [Record(index, event) for index, event in enumerate(history)]
    shuffle.shuffle(records)
    assert PERIOD is not None
    inputs = rating_input({USAGE_EVENT: records}, CONTRACT, PERIOD, len(history), STATED, [])
    calls, size = by_hand(history)
    counted = {g.dims: g.value for g in inputs.usage["calls"].groups}
    assert counted == {f'{{"region":"{region}"}}': n for region, n in calls.items()}
    assert inputs.usage["gigabytes"].total == size
