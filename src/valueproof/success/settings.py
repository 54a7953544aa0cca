"""A tenant's Customer Success settings documents (alert rules, scorecards, segment rules),
stored whole by key; a key never set reads as its defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, delete, insert, select

from valueproof.success.alerts import parse_rules
from valueproof.success.scorecard import Scorecard, parse_scorecard
from valueproof.success.segments import SegmentRules, parse_segment_rules
from valueproof.success.tables import success_settings

__all__ = [
    "DEFAULT_SCORECARD",
    "SCORECARD",
    "SEGMENTS",
    "SETTINGS",
    "load_setting",
    "setting_json",
    "store_setting",
]

# The scorecard in force until a tenant sets its own: the measures a consumption business
# needs, with their default bands (success.scorecard.DEFAULT_BANDS).
DEFAULT_SCORECARD: dict[str, Any] = {
    "measures": [
        {"key": "usage_vs_baseline", "weight": 35, "label": "Usage against its seasonal norm"},
        {"key": "commitment_pace", "weight": 25, "label": "Commitment pace"},
        {"key": "outcome_acceptance", "weight": 15, "label": "Outcome acceptance rate"},
        {"key": "plan_adherence", "weight": 10, "label": "Success-plan adherence"},
        {"key": "engagement_recency", "weight": 15, "label": "Days since the last engagement"},
    ]
}


def SCORECARD(data: Any) -> Scorecard:
    """The `scorecards` setting: the stored scorecard, or DEFAULT_SCORECARD."""
    return parse_scorecard(DEFAULT_SCORECARD if data is None else data)


def SEGMENTS(data: Any) -> SegmentRules | None:
    """The `segments` setting: the stored rules, or None (every account in the default)."""
    return None if data is None else parse_segment_rules(data)


# Each settings key and the parser of its document (which also gives its defaults from None).
SETTINGS: dict[str, Callable[[Any], Any]] = {
    "alerts": parse_rules,
    "scorecards": SCORECARD,
    "segments": SEGMENTS,
}

T = TypeVar("T")


def load_setting(connection: Connection, tenant_id: int, key: str, parse: Callable[[Any], T]) -> T:
    """The document stored under `key`, parsed; `parse(None)` gives the defaults."""
    t = success_settings.c
    row = connection.execute(
        select(t.document).where(t.tenant_id == tenant_id, t.key == key)
    ).first()
    return parse(None if row is None else orjson.loads(row.document))


def store_setting(
    connection: Connection,
    tenant_id: int,
    key: str,
    document: Any,
    parse: Callable[[Any], T],
    now_us: int,
) -> T:
    """Validate `document` with `parse` (it raises naming the bad field), then store it whole."""
    parsed = parse(document)
    text = orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()
    t = success_settings.c
    connection.execute(delete(success_settings).where(t.tenant_id == tenant_id, t.key == key))
    connection.execute(
        insert(success_settings).values(
            tenant_id=tenant_id, key=key, document=text, updated_us=now_us
        )
    )
    return parsed


def setting_json(parsed: Any) -> dict[str, Any]:
    """A parsed settings document as JSON, its defaults filled in."""
    if parsed is None:
        return {}
    answer: dict[str, Any] = parsed.model_dump(mode="json")
    return answer
