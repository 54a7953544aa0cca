"""When a failed delivery is tried again: the Standard Webhooks retry schedule, pure."""

from __future__ import annotations

__all__ = ["MAX_ATTEMPTS", "RETRY_DELAYS_SECONDS", "next_attempt_us"]

# Standard Webhooks (standardwebhooks.com, "Retry schedule"): immediately, then 5 s, 5 min,
# 30 min, 2 h, 5 h, 10 h and 10 h after each failure; 27.6 h from the first attempt to the last.
RETRY_DELAYS_SECONDS: tuple[int, ...] = (
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS_SECONDS)


def next_attempt_us(attempts: int, failed_at_us: int) -> int | None:
    """When to try again after `attempts` failed attempts, the last at `failed_at_us`; None
    when that was the last one (the delivery has failed)."""
    if attempts < 1:
        raise ValueError("a retry follows at least one attempt")
    if attempts > len(RETRY_DELAYS_SECONDS):
        return None
    return failed_at_us + RETRY_DELAYS_SECONDS[attempts - 1] * 1_000_000
