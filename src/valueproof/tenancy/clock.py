"""The wall clock in the units the store keeps (microseconds since the epoch)."""

import time


def now_us() -> int:
    """Current time in microseconds since the Unix epoch."""
    return time.time_ns() // 1_000
