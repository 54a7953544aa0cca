"""The one batch rule (batches.py): counts of the four statuses, and 200, 207 or 422 by them,
with the CLI's exit codes following it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from valueproof.batches import BATCH_STATUSES, BatchCounts, BatchStatus, batch_http_status
from valueproof.cli.output import EXIT_FAILED, EXIT_OK, batch_exit

statuses = st.lists(st.sampled_from(BATCH_STATUSES), max_size=50)


def counted(items: list[BatchStatus]) -> BatchCounts:
    counts = BatchCounts()
    counts.add(items)
    return counts


@given(statuses)
def test_counts_add_up_to_the_items_in_the_vocabulary_order(items: list[BatchStatus]) -> None:
    counts = counted(items)
    assert counts.total == len(items)
    assert list(counts.as_json()) == ["accepted", "duplicate", "conflict", "rejected"]
    assert counts.as_json() == {status: items.count(status) for status in BATCH_STATUSES}


@given(statuses)
def test_200_when_all_on_record_207_for_a_mix_422_when_none(items: list[BatchStatus]) -> None:
    on_record = {"accepted", "duplicate"}
    status = batch_http_status(counted(items))
    if all(item in on_record for item in items):
        assert status == 200
    elif any(item in on_record for item in items):
        assert status == 207
    else:
        assert status == 422


@given(statuses)
def test_the_cli_exits_0_exactly_where_the_api_answers_200(items: list[BatchStatus]) -> None:
    counts = counted(items)
    expected = EXIT_OK if batch_http_status(counts) == 200 else EXIT_FAILED
    assert batch_exit(counts) == expected


def test_the_rule_on_named_batches() -> None:
    assert batch_http_status(counted(["accepted", "duplicate"])) == 200
    assert batch_http_status(counted(["duplicate", "rejected"])) == 207
    assert batch_http_status(counted(["conflict", "rejected"])) == 422
