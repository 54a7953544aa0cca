"""The retry schedule: Standard Webhooks' delays, spanning more than a day, then failed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from valueproof.webhooks.schedule import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, next_attempt_us

_HOUR_US = 3600 * 1_000_000


def test_the_schedule_is_standard_webhooks() -> None:
    assert RETRY_DELAYS_SECONDS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert MAX_ATTEMPTS == 8


def test_the_last_retry_comes_more_than_a_day_after_the_first_attempt() -> None:
    at = 0
    for attempts in range(1, MAX_ATTEMPTS):
        later = next_attempt_us(attempts, at)
        assert later is not None
        at = later
    assert at >= 24 * _HOUR_US
    assert next_attempt_us(MAX_ATTEMPTS, at) is None


@given(st.integers(1, MAX_ATTEMPTS - 2), st.integers(0, 2**53))
def test_each_wait_is_at_least_the_one_before(attempts: int, failed_at_us: int) -> None:
    first = next_attempt_us(attempts, failed_at_us)
    second = next_attempt_us(attempts + 1, failed_at_us)
    assert first is not None and second is not None
    assert failed_at_us < first <= second


@given(st.integers(MAX_ATTEMPTS, 10_000), st.integers(0, 2**53))
def test_after_the_last_attempt_there_is_no_retry(attempts: int, failed_at_us: int) -> None:
    assert next_attempt_us(attempts, failed_at_us) is None
