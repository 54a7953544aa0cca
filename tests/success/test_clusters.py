"""Data-driven segments: k-means over usage features, deterministic, explained in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.errors import InvalidInput
from valueproof.success.clusters import cluster_accounts


def _population(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two clear groups: big seasonal growers peaking in Q4, and small steady shrinkers."""
    rng = np.random.default_rng(seed)
    big = np.arange(n) % 2 == 0
    return pd.DataFrame(
        {
            "volume": np.where(big, 5_000.0, 20.0) * rng.uniform(0.8, 1.2, n),
            "growth": np.where(big, 1.3, 0.8) * rng.uniform(0.97, 1.03, n),
            "volatility": rng.uniform(0.1, 0.2, n),
            "seasonality_strength": np.where(big, 0.8, 0.1) + rng.uniform(0, 0.05, n),
            "seasonal_period": np.where(big, 365.0, np.nan),
            "peak_quarter": np.where(big, 4.0, np.nan),
        },
        index=[f"acct-{i}" for i in range(n)],
    )


def test_two_groups_are_found_and_explained():
    found = cluster_accounts(_population())
    assert len(found.clusters) == 2
    big, small = found.clusters
    assert big.description == "high volume, strong yearly peak in Q4, growing"
    assert small.description == "low volume, steady, shrinking"
    assert (big.size, small.size) == (150, 150)
    assert found.labels[0] == 0 and found.labels[1] == 1
    assert found.descriptions[0] == big.description
    assert found.accounts[:2] == ("acct-0", "acct-1")
    assert found.silhouette is not None and found.silhouette > 0.5
    assert big.typical["growth"] == pytest.approx(1.3, rel=0.02)


def test_fixed_k():
    found = cluster_accounts(_population(), k=3)
    assert len(found.clusters) == 3
    assert sorted(set(found.labels.tolist())) == [0, 1, 2]
    assert sum(c.size for c in found.clusters) == 300


def test_missing_share_of_wallet_is_imputed_and_said():
    table = _population()
    share = np.where(np.arange(300) % 2 == 0, 0.8, 0.2)
    share[:10] = np.nan
    table["share_of_wallet"] = share
    found = cluster_accounts(table, k=2)
    assert found.notes == ("share of wallet unknown for 10 of 300 accounts: median imputed",)
    assert found.descriptions[0].endswith("share of wallet unknown")
    assert found.descriptions[11] == "low volume, steady, shrinking, small share of wallet"
    assert found.clusters[0].description.endswith("most of their spend with us")


def test_weekly_seasonality_is_named_without_a_quarter():
    table = _population()
    table["seasonal_period"] = np.where(table["seasonal_period"].notna(), 7.0, np.nan)
    found = cluster_accounts(table, k=2)
    assert found.clusters[0].description == "high volume, strong weekly peak, growing"


def test_identical_accounts_make_one_cluster():
    table = pd.DataFrame({"volume": [10.0] * 5}, index=list("abcde"))
    found = cluster_accounts(table)
    assert len(found.clusters) == 1
    assert found.silhouette is None
    assert found.clusters[0].description == "mid volume, steady, flat"


@pytest.mark.parametrize(
    ("table", "field"),
    [
        (pd.DataFrame({"growth": [1.0]}), "features.volume"),
        (pd.DataFrame({"volume": [1.0], "colour": [2.0]}), "features.colour"),
        (pd.DataFrame({"volume": [1.0, -2.0]}), "features.volume"),
        (pd.DataFrame({"volume": [1.0, np.nan]}), "features.volume"),
        (pd.DataFrame({"volume": []}), "features"),
    ],
)
def test_bad_tables_name_the_column(table, field):
    with pytest.raises(InvalidInput) as raised:
        cluster_accounts(table)
    assert raised.value.field == field


def test_k_out_of_range():
    with pytest.raises(InvalidInput) as raised:
        cluster_accounts(_population(10), k=11)
    assert raised.value.field == "k"


def test_ten_thousand_accounts_cluster_quickly():
    import time

    table = _population(10_000, seed=3)
    table["share_of_wallet"] = np.random.default_rng(3).uniform(0, 1, 10_000)
    start = time.perf_counter()
    found = cluster_accounts(table)
    assert time.perf_counter() - start < 3.0
    assert len(found.descriptions) == 10_000


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 1000))
def test_labels_are_deterministic_for_a_seed(seed, data_seed):
    rng = np.random.default_rng(data_seed)
    n = 60
    table = pd.DataFrame(
        {
            "volume": rng.lognormal(3, 2, n),
            "growth": rng.uniform(0.5, 1.5, n),
            "volatility": rng.uniform(0, 1, n),
            "seasonality_strength": rng.uniform(0, 1, n),
        }
    )
    first = cluster_accounts(table, seed=seed)
    second = cluster_accounts(table.copy(), seed=seed)
    assert np.array_equal(first.labels, second.labels)
    assert first.descriptions == second.descriptions
    # Label 0 is always the highest-volume cluster.
    volumes = [c.typical["volume"] for c in first.clusters]
    log_means = [np.log1p(table["volume"][first.labels == c.label]).mean() for c in first.clusters]
    assert log_means == sorted(log_means, reverse=True)
    assert len(volumes) == len(first.clusters)
