"""The backtest's pure core: episodes from replay days, scoring against labels, and labels read
from CSV, JSON lines and request documents, every bad line reported at once."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.success.backtest import (
    REPLAYED,
    Episode,
    Label,
    episodes,
    label_documents,
    parse_labels,
    replay_window,
    score,
)
from valueproof.success.errors import LabelsInvalid

FIRST = date(2025, 1, 1)
LAST = date(2025, 3, 31)
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
ACCOUNTS = ["a0", "a1", "a2", "a3"]


@st.composite
def labelled(draw: st.DrawFn) -> list[Label]:
    """At most one label per account and type, starting and ending inside the replay."""
    found = []
    for account in ACCOUNTS:
        for kind in draw(st.sets(st.sampled_from(REPLAYED))):
            start = draw(st.integers(0, len(DAYS) - 1))
            length = draw(st.integers(0, len(DAYS) - 1 - start))
            found.append(Label(account, kind, DAYS[start], DAYS[start + length]))
    return found


def alerter(labels: list[Label]) -> list[Episode]:
    """A perfect alerter: an episode over exactly each label's days."""
    held: dict[date, set[tuple[str, str, str]]] = {}
    for label in labels:
        assert label.end is not None
        for offset in range((label.end - label.start).days + 1):
            day = label.start + timedelta(days=offset)
            held.setdefault(day, set()).add((label.account, label.type, "usage"))
    return episodes(held, DAYS)


@given(labelled())
def test_a_perfect_alerter_scores_one_with_no_delay(labels: list[Label]) -> None:
    for found in score(alerter(labels), labels, FIRST, LAST, set(ACCOUNTS)):
        mine = [t for t in labels if t.type == found.type]
        assert found.labels == found.detected == found.episodes == len(mine)
        assert found.false_alerts == 0 and found.false_per_100_account_months == 0.0
        if mine:
            assert found.precision == found.recall == 1.0 and found.median_delay_days == 0.0
        else:
            assert found.precision is None and found.recall is None


@given(
    labelled(),
    st.sampled_from(REPLAYED),
    st.integers(0, len(DAYS) - 1),
    st.integers(0, 10),
)
def test_an_unlabelled_episode_never_raises_precision_nor_changes_recall(
    labels: list[Label], kind: str, start: int, length: int
) -> None:
    found = alerter(labels)
    stray = Episode("unlabelled", kind, "usage", DAYS[start], DAYS[min(start + length, 89)])
    everyone = {*ACCOUNTS, "unlabelled"}
    before = {s.type: s for s in score(found, labels, FIRST, LAST, everyone)}
    after = {s.type: s for s in score([*found, stray], labels, FIRST, LAST, everyone)}
    for kind_ in REPLAYED:
        assert (after[kind_].precision or 0.0) <= (before[kind_].precision or 1.0)
        assert after[kind_].recall == before[kind_].recall
    assert after[kind].false_alerts == before[kind].false_alerts + 1


@given(
    st.dictionaries(
        st.sampled_from(DAYS),
        st.sets(st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(REPLAYED), st.just("r"))),
    )
)
def test_every_held_day_is_in_exactly_one_episode_of_consecutive_days(
    held: dict[date, set[tuple[str, str, str]]],
) -> None:
    found = episodes(held, DAYS)
    covered = [
        (e.start + timedelta(days=i), (e.account, e.type, e.reason))
        for e in found
        for i in range((e.end - e.start).days + 1)
    ]
    assert sorted(covered) == sorted((day, key) for day, keys in held.items() for key in keys)
    # Episodes of one signal never touch: a gap of a replay day lies between them.
    by_key: dict[tuple[str, str, str], list[Episode]] = {}
    for e in found:
        by_key.setdefault((e.account, e.type, e.reason), []).append(e)
    for runs in by_key.values():
        runs.sort(key=lambda e: e.start)
        assert all((b.start - a.end).days > 1 for a, b in pairwise(runs))


def test_delay_grace_and_labels_before_the_replay() -> None:
    labels = [
        Label("a0", "quiet", date(2025, 2, 1)),  # detected 6 days late
        Label("a1", "decline", date(2025, 2, 1), date(2025, 2, 10)),  # seen 5 days after its end
        Label("a2", "decline", date(2024, 12, 1)),  # before the replay: not scored for recall
        Label("a3", "decline", date(2025, 3, 1), date(2025, 3, 2)),  # seen 8 days after: missed
    ]
    found = [
        Episode("a0", "quiet", "usage", date(2025, 2, 7), date(2025, 3, 31)),
        Episode("a1", "decline", "calls", date(2025, 2, 15), date(2025, 2, 16)),
        Episode("a2", "decline", "calls", date(2025, 1, 1), date(2025, 1, 4)),
        Episode("a3", "decline", "calls", date(2025, 3, 10), date(2025, 3, 12)),
        Episode("a0", "surge", "calls", date(2025, 1, 5), date(2025, 1, 5)),
    ]
    scores = {s.type: s for s in score(found, labels, FIRST, LAST, set(ACCOUNTS))}
    quiet, decline, surge = scores["quiet"], scores["decline"], scores["surge"]
    assert (quiet.recall, quiet.precision, quiet.median_delay_days) == (1.0, 1.0, 6.0)
    assert (decline.labels, decline.detected, decline.true_episodes) == (2, 1, 2)
    assert decline.false_alerts == 1 and decline.median_delay_days == 14.0
    assert surge.precision == 0.0 and surge.recall is None
    # 4 accounts over 90 days is 11.83 account-months: one false alert is 8.45 per 100.
    assert round(surge.false_per_100_account_months, 2) == 8.45


def test_labels_from_csv_and_json_lines() -> None:
    csv_text = (
        "account,type,start,end\nacme,quiet,2025-02-01,\nglobex,decline,2025-01-03,2025-01-09\n"
    )
    assert parse_labels(csv_text) == [
        Label("acme", "quiet", date(2025, 2, 1)),
        Label("globex", "decline", date(2025, 1, 3), date(2025, 1, 9)),
    ]
    lines = '{"account": "acme", "type": "surge", "start": "2025-02-01"}\n\n'
    assert parse_labels(lines) == [Label("acme", "surge", date(2025, 2, 1))]
    assert parse_labels("") == []


def test_every_bad_line_is_reported_at_once() -> None:
    text = (
        "account,type,start,end\n"
        "acme,quiet,2025-02-01,\n"
        "globex,outage,2025-01-03,\n"
        ",decline,yesterday,\n"
        "initech,decline,2025-03-01,2025-02-01\n"
        "too,many,fields,here,x\n"
    )
    with pytest.raises(LabelsInvalid) as raised:
        parse_labels(text)
    assert [field for field, _ in raised.value.problems] == [
        "line 3.type",
        "line 4.account",
        "line 4.start",
        "line 5.end",
        "line 6",
    ]
    with pytest.raises(LabelsInvalid) as bad_json:
        parse_labels('{"account": "a", "type": "quiet", "start": "2025-01-01"}\n{oops\n[1]\n')
    assert [field for field, _ in bad_json.value.problems] == ["line 2", "line 3"]
    with pytest.raises(LabelsInvalid) as header:
        parse_labels("who,what\n")
    assert header.value.problems == (("line 1", "the header is account,type,start[,end]"),)
    with pytest.raises(LabelsInvalid) as documents:
        label_documents([{"account": "a", "type": "quiet", "start": 3}, "x", {"when": 1}])
    assert [f for f, _ in documents.value.problems][:3] == [
        "labels[0].start",
        "labels[1]",
        "labels[2]",
    ]


def test_the_replay_window_defaults_to_the_90_days_ending_yesterday() -> None:
    assert replay_window(None, None, date(2025, 4, 1)) == (FIRST, LAST)
    assert replay_window("2025-03-01", None, date(2025, 4, 1)) == (date(2025, 3, 1), LAST)
    with pytest.raises(InvalidInput) as raised:
        replay_window(None, "March", date(2025, 4, 1))
    assert raised.value.field == "to"
