"""Tests of the sample book: determinism, the shape of every event, and the patterns it promises."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.contracts.validation import parse_contract
from valueproof.demo import (
    EVENT_TYPES,
    METERS,
    BookSpec,
    DemoAccount,
    demo_accounts,
    demo_events,
)
from valueproof.demo.contracts import demo_contract
from valueproof.errors import InvalidInput

END = datetime(2025, 1, 1, tzinfo=UTC)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}
SCHEMAS = {event_type["key"]: event_type["properties"] for event_type in EVENT_TYPES}

# A full book's accounts cost milliseconds; tests stream only the accounts they look at.
FULL = BookSpec(end=END, seed=7)


def tiny(seed: int = 7, accounts: int = 6, days: int = 21, end: datetime = END) -> BookSpec:
    return BookSpec(end=end, seed=seed, accounts=accounts, days=days, scale=0.2)


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def daily_usage(spec: BookSpec, accounts: Sequence[DemoAccount]) -> dict[str, np.ndarray]:
    """Usage per account per day of the window: events, or messages for `message.sent`."""
    first = spec.start.date()
    usage = {account.external_id: np.zeros(spec.days) for account in accounts}
    for event in demo_events(spec, accounts):
        day = (date.fromisoformat(event["timestamp"][:10]) - first).days
        usage[event["account"]][day] += event.get("value", 1)
    return usage


def chosen(product: str, archetypes: Iterable[str]) -> list[DemoAccount]:
    wanted = set(archetypes)
    return [
        account
        for account in demo_accounts(FULL)
        if account.attributes["product"] == product and account.profile.archetype in wanted
    ]


# --- determinism and stability ---------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_the_same_spec_yields_the_same_book(seed: int) -> None:
    spec = tiny(seed=seed)
    assert demo_accounts(spec) == demo_accounts(spec)
    assert list(demo_events(spec)) == list(demo_events(spec))


def test_different_seeds_yield_different_books() -> None:
    assert list(demo_events(tiny(seed=1))) != list(demo_events(tiny(seed=2)))


def test_more_accounts_leave_the_first_ones_unchanged() -> None:
    small, large = tiny(accounts=4), tiny(accounts=9)
    assert demo_accounts(large)[:4] == demo_accounts(small)
    first_ids = {account.external_id for account in demo_accounts(small)}
    from_large = [event for event in demo_events(large) if event["account"] in first_ids]
    assert from_large == list(demo_events(small))


def test_a_subset_of_accounts_yields_the_same_events() -> None:
    spec = tiny(accounts=8)
    subset = demo_accounts(spec)[3:6]
    ids = {account.external_id for account in subset}
    assert list(demo_events(spec, subset)) == [
        event for event in demo_events(spec) if event["account"] in ids
    ]


# --- accounts -------------------------------------------------------------------------------------


def test_accounts_have_unique_readable_ids_and_valid_attributes() -> None:
    accounts = demo_accounts(FULL)
    assert len(accounts) == 200
    assert len({account.external_id for account in accounts}) == 200
    assert len({account.name for account in accounts}) == 200
    for index, account in enumerate(accounts):
        assert re.fullmatch(rf"[a-z0-9-]+-{index:03d}", account.external_id)
        attributes = account.attributes
        assert set(attributes) == {"industry", "size", "region", "product"}
        assert attributes["size"] in {"smb", "mid", "enterprise"}
        assert attributes["region"] in {"NA", "EMEA", "APAC", "LATAM"}


def test_the_three_lines_are_near_equal_thirds() -> None:
    products = Counter(account.attributes["product"] for account in demo_accounts(FULL))
    assert set(products) == {"background_checks", "messaging", "logistics"}
    assert all(66 <= count <= 67 for count in products.values())


def test_profiles_carry_the_ground_truth() -> None:
    archetypes = Counter[str]()
    for account in demo_accounts(FULL):
        profile = account.profile
        archetypes[profile.archetype] += 1
        assert profile.periods_days == (7.0, 365.25)
        assert 0 < profile.weekly_amplitude < 1.5
        assert 0 < profile.yearly_amplitude < 1.5
        assert profile.base_daily_volume > 0
        assert (profile.archetype == "quiet") == (profile.quiet_since is not None)
        if profile.quiet_since is not None:
            assert END - timedelta(days=70) <= profile.quiet_since <= END - timedelta(days=21)
        if profile.archetype == "growing":
            assert profile.trend_per_year > 0.25
        if profile.archetype == "declining":
            assert profile.trend_per_year < -0.15
    assert set(archetypes) == {"growing", "flat", "declining", "quiet"}
    assert 3 <= archetypes["quiet"] <= 25


@pytest.mark.parametrize(
    "end",
    [datetime(2025, 1, 1), datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))],
    ids=["naive", "not-utc"],
)
def test_the_end_must_be_aware_utc(end: datetime) -> None:
    with pytest.raises(InvalidInput) as raised:
        BookSpec(end=end)
    assert raised.value.field == "end"


def test_scale_zero_yields_no_events() -> None:
    spec = BookSpec(end=END, accounts=6, days=30, scale=0.0)
    assert list(demo_events(spec)) == []


# --- events -------------------------------------------------------------------------------------


ENDS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    accounts=st.integers(min_value=0, max_value=6),
    days=st.integers(min_value=1, max_value=15),
    end=ENDS,
)
def test_events_are_well_formed_unique_and_in_order(
    seed: int, accounts: int, days: int, end: datetime
) -> None:
    spec = tiny(seed=seed, accounts=accounts, days=days, end=end)
    events = list(demo_events(spec))
    assert len({event["id"] for event in events}) == len(events)
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps)
    known = {account.external_id for account in demo_accounts(spec)}
    for event in events:
        assert_well_formed(event, known)
        assert spec.start <= parse(event["timestamp"]) < spec.end


def assert_well_formed(event: dict[str, Any], accounts: set[str]) -> None:
    assert set(event) <= {"id", "account", "type", "timestamp", "properties", "value"}
    assert event["account"] in accounts
    assert event["id"].startswith(event["account"] + "-")
    assert TIMESTAMP.match(event["timestamp"])
    schema = SCHEMAS[event["type"]]
    assert set(event["properties"]) <= set(schema)
    for name, rule in schema.items():
        if rule["required"]:
            assert name in event["properties"]
        if name in event["properties"]:
            assert isinstance(event["properties"][name], PYTHON_TYPES[rule["type"]])
    if event["type"] == "message.sent":
        assert isinstance(event["value"], int)
        assert event["value"] > 0
    else:
        assert "value" not in event


def test_each_line_emits_its_own_event_type_with_plausible_properties() -> None:
    spec = tiny(accounts=9, days=30)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in demo_events(spec):
        by_type.setdefault(event["type"], []).append(event)
    assert set(by_type) == set(SCHEMAS)
    checks = [event["properties"] for event in by_type["background_check.completed"]]
    assert {check["package"] for check in checks} <= {"basic", "standard", "premium"}
    assert all(re.fullmatch(r"[A-Z]{2}", check["country"]) for check in checks)
    messages = [event["properties"] for event in by_type["message.sent"]]
    assert {message["channel"] for message in messages} <= {"sms", "email", "whatsapp"}
    assert all(parse(event["timestamp"]).minute == 0 for event in by_type["message.sent"])
    for shipment in (event["properties"] for event in by_type["shipment.delivered"]):
        assert shipment["mode"] in {"TL", "LTL"}
        assert 0 < shipment["weight_kg"] <= 24_000
        assert re.fullmatch(r"[A-Z]{3}-[A-Z]{3}", shipment["lane"])


def test_meters_refer_to_declared_event_types_and_properties() -> None:
    assert {meter["aggregation"] for meter in METERS} == {"count", "sum", "unique_count"}
    assert len({meter["key"] for meter in METERS}) == len(METERS)
    for meter in METERS:
        schema = SCHEMAS[meter["event_type"]]
        assert set(meter["group_by"]) <= set(schema)
        prop = meter.get("value_property")
        if prop is not None:
            assert prop in schema
            if meter["aggregation"] == "sum":
                assert schema[prop]["type"] in {"number", "integer"}


# --- the patterns the book promises -----------------------------------------------------------


def test_quiet_accounts_go_quiet_after_quiet_since() -> None:
    spec = BookSpec(end=END, seed=7, days=180, scale=0.5)
    quiet = [account for account in demo_accounts(FULL) if account.profile.quiet_since]
    usage = daily_usage(spec, quiet)
    assert any(account.profile.quiet_level == 0.0 for account in quiet)
    for account in quiet:
        since = account.profile.quiet_since
        assert since is not None
        cut = (since.date() - spec.start.date()).days
        before = usage[account.external_id][cut - 56 : cut].mean()
        after = usage[account.external_id][cut:].mean()
        assert before > 0
        assert after <= 0.15 * before
        if account.profile.quiet_level == 0.0:
            assert after == 0


def weekday_means(usage: dict[str, np.ndarray], spec: BookSpec) -> np.ndarray:
    total = sum(usage.values(), np.zeros(spec.days))
    weekdays = (spec.start.date().weekday() + np.arange(spec.days)) % 7
    return np.array([total[weekdays == day].mean() for day in range(7)])


def test_logistics_is_quiet_at_weekends() -> None:
    spec = BookSpec(end=END, days=182, scale=0.3)
    means = weekday_means(daily_usage(spec, chosen("logistics", ["flat", "growing"])), spec)
    assert means[5:].max() < 0.35 * means[:5].min()


def test_messaging_peaks_on_tuesdays_and_thursdays() -> None:
    spec = BookSpec(end=END, days=182, scale=0.3)
    means = weekday_means(daily_usage(spec, chosen("messaging", ["flat"])), spec)
    assert set(np.argsort(means)[-2:]) == {1, 3}


def test_logistics_peaks_in_the_fourth_quarter() -> None:
    spec = BookSpec(end=END, days=366, scale=0.3)
    usage = daily_usage(spec, chosen("logistics", ["flat"]))
    total = sum(usage.values(), np.zeros(spec.days))
    day_of = {day: (day - spec.start.date()).days for day in (date(2024, 4, 1), date(2024, 10, 1))}
    second = total[day_of[date(2024, 4, 1)] : day_of[date(2024, 4, 1)] + 91].sum()
    fourth = total[day_of[date(2024, 10, 1)] : day_of[date(2024, 10, 1)] + 92].sum()
    assert fourth > 1.3 * second


def test_background_checks_peak_in_january_and_late_summer() -> None:
    spec = BookSpec(end=datetime(2024, 12, 1, tzinfo=UTC), days=335, scale=0.3)
    usage = daily_usage(spec, chosen("background_checks", ["flat"]))
    total = sum(usage.values(), np.zeros(spec.days))
    months = Counter[int]()
    for offset, amount in enumerate(total):
        months[(spec.start + timedelta(days=offset)).month] += int(amount)
    assert {months.most_common(2)[0][0], months.most_common(2)[1][0]} <= {1, 8, 9}


def test_trends_show_year_over_year() -> None:
    """The last quarter against the same quarter a year before, so seasonality cancels out."""
    spec = BookSpec(end=END, scale=0.3)
    trending = {"growing", "declining"}
    accounts = [a for a in demo_accounts(FULL)[:60] if a.profile.archetype in trending]
    usage = daily_usage(spec, accounts)
    checked = Counter[str]()
    for account in accounts:
        days = usage[account.external_id]
        earlier, latest = days[-91 - 365 : -365].sum(), days[-91:].sum()
        if earlier < 200:
            continue  # too few events to tell a trend from Poisson noise
        checked[account.profile.archetype] += 1
        if account.profile.archetype == "growing":
            assert latest > 1.1 * earlier
        else:
            assert latest < 0.9 * earlier
    assert checked["growing"] >= 3
    assert checked["declining"] >= 3


def test_every_demo_account_has_a_valid_contract_for_its_line() -> None:
    accounts = demo_accounts(tiny(accounts=60))
    start = END - timedelta(days=21)
    seen = set()
    for account in accounts:
        document = parse_contract(demo_contract(account, start))
        seen.add((account.attributes["product"], account.attributes["size"]))
        assert document.account == account.external_id
        assert document.term.start.day == 1
        metered = {getattr(c, "meter", None) for c in document.components} - {None}
        expected = {
            "background_checks": {"background_checks"},
            "messaging": {"messages"},
            "logistics": {"shipments"},
        }[account.attributes["product"]]
        assert metered == expected
    assert {product for product, _ in seen} == {"background_checks", "messaging", "logistics"}
    assert {size for _, size in seen} == {"smb", "mid", "enterprise"}
