"""Purchase drivers: OLS on driver series, LMG shares of R², errors naming the series."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.success.drivers import MAX_DRIVERS, explain_usage
from valueproof.success.errors import DriverInputInvalid


def test_one_driver_explains_almost_everything():
    rng = np.random.default_rng(0)
    orders = rng.uniform(100, 200, 365)
    usage = 3.0 * orders + rng.normal(0, 1, 365)
    found = explain_usage(usage, {"order_volume": orders})
    assert found.r_squared > 0.99
    (effect,) = found.drivers
    assert effect.share == pytest.approx(found.r_squared)
    assert effect.share_of_explained == pytest.approx(1.0)
    assert effect.ci_low < 3.0 < effect.ci_high
    assert effect.elasticity == pytest.approx(effect.coefficient * orders.mean() / usage.mean())
    assert found.summary == (
        "order volume explains 100% of the day-to-day variation in usage; 0% is unexplained"
    )
    assert found.observations == 365 and found.dropped == 0


def test_two_drivers_split_what_they_explain():
    rng = np.random.default_rng(1)
    n = 400
    orders, traffic = rng.normal(0, 1, n), rng.normal(0, 1, n)
    usage = 100 + 2.0 * orders + 1.0 * traffic + rng.normal(0, 0.5, n)
    found = explain_usage(usage, {"orders": orders, "web_traffic": traffic})
    shares = {d.name: d.share for d in found.drivers}
    # Variances 4 : 1 : 0.25 (noise): shares about 4/5.25 and 1/5.25, up to sampling.
    assert shares["orders"] == pytest.approx(4 / 5.25, abs=0.08)
    assert shares["web_traffic"] == pytest.approx(1 / 5.25, abs=0.08)
    assert shares["orders"] > 2 * shares["web_traffic"]
    assert sum(shares.values()) == pytest.approx(found.r_squared)
    assert [d.name for d in found.drivers] == ["orders", "web_traffic"]
    assert ", web traffic explains " in found.summary
    assert found.summary.endswith("is unexplained")


def test_correlated_drivers_share_the_common_part():
    rng = np.random.default_rng(2)
    n = 300
    base = rng.normal(0, 1, n)
    a = base + rng.normal(0, 0.3, n)
    b = base + rng.normal(0, 0.3, n)
    usage = a + rng.normal(0, 0.2, n)
    found = explain_usage(usage, {"a": a, "b": b})
    shares = {d.name: d.share for d in found.drivers}
    assert shares["a"] > shares["b"] > 0
    assert sum(shares.values()) == pytest.approx(found.r_squared)


def test_gaps_are_left_out_and_counted():
    rng = np.random.default_rng(3)
    orders = rng.uniform(10, 20, 100)
    usage = 2 * orders + rng.normal(0, 0.1, 100)
    orders[[3, 50]] = np.nan
    usage[7] = np.nan
    found = explain_usage(usage, {"orders": orders})
    assert (found.observations, found.dropped) == (97, 3)


def test_log_scale_gives_elasticities():
    rng = np.random.default_rng(4)
    orders = rng.uniform(100, 10_000, 200)
    usage = np.expm1(0.8 * np.log1p(orders) + rng.normal(0, 0.02, 200))
    found = explain_usage(usage, {"orders": orders}, log_scale=True, confidence=0.9)
    (effect,) = found.drivers
    assert effect.coefficient == pytest.approx(0.8, abs=0.01)
    assert effect.elasticity == effect.coefficient
    assert found.log_scale and found.confidence == 0.9


@pytest.mark.parametrize(
    ("usage", "drivers", "kwargs", "field", "reason"),
    [
        (np.arange(30.0), {"x": np.arange(20.0)}, {}, "drivers.x", "has 20 values; usage has 30"),
        (np.arange(30.0), {"x": np.ones(30)}, {}, "drivers.x", "is constant"),
        (np.ones(30), {"x": np.arange(30.0)}, {}, "usage", "is constant"),
        (np.arange(5.0), {"x": np.arange(5.0) ** 2}, {}, "usage", "at least 10"),
        (np.arange(30.0), {}, {}, "drivers", "at least one"),
        (
            np.arange(30.0),
            {f"d{i}": np.arange(30.0) ** (i / 3) for i in range(MAX_DRIVERS + 1)},
            {},
            "drivers",
            f"at most {MAX_DRIVERS}",
        ),
        (
            np.arange(30.0),
            {"x": np.sin(np.arange(30.0)), "y": 2 * np.sin(np.arange(30.0)) + 1},
            {},
            "drivers.y",
            "linear combination of x",
        ),
        (
            np.arange(30.0) - 5,
            {"x": np.arange(30.0) ** 2},
            {"log_scale": True},
            "usage",
            "negative",
        ),
        (np.arange(30.0), {"x": [np.inf] * 30}, {}, "drivers.x", "infinite"),
        (np.arange(30.0), {"x": ["a"] * 30}, {}, "drivers.x", "sequence of numbers"),
        (np.arange(30.0), {"x": np.arange(30.0) ** 2}, {"confidence": 95}, "confidence", "between"),
    ],
)
def test_bad_input_names_the_series(usage, drivers, kwargs, field, reason):
    with pytest.raises(DriverInputInvalid) as raised:
        explain_usage(usage, drivers, **kwargs)
    assert raised.value.field == field
    assert reason in raised.value.reason


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.5, 50), st.floats(-100, 100))
def test_a_scaled_driver_plus_small_noise_explains_nearly_all(seed, slope, intercept):
    rng = np.random.default_rng(seed)
    driver = rng.uniform(0, 100, 120)
    usage = intercept + slope * driver + rng.normal(0, 0.01 * slope * 29, 120)
    found = explain_usage(usage, {"driver": driver})
    assert found.r_squared > 0.99
    assert found.drivers[0].share_of_explained == pytest.approx(1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_shares_are_non_negative_and_sum_to_r_squared(seed, count):
    rng = np.random.default_rng(seed)
    n = 80
    drivers = {f"d{i}": rng.normal(0, 1, n) for i in range(count)}
    weights = rng.uniform(-2, 2, count)
    usage = sum(w * x for w, x in zip(weights, drivers.values(), strict=True)) + rng.normal(0, 1, n)
    found = explain_usage(usage, drivers)
    assert all(d.share >= 0 for d in found.drivers)
    assert sum(d.share for d in found.drivers) == pytest.approx(found.r_squared, abs=1e-9)
    assert 0 <= found.r_squared <= 1
