"""Data-driven segments: accounts grouped by k-means over standardized usage features (volume,
growth, volatility, seasonality strength, share of wallet), each cluster and each account
explained in words a CSM reads at a glance: "high volume, strong yearly peak in Q4, growing".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from valueproof.errors import InvalidInput

if TYPE_CHECKING:
    # Types only: pandas and SciPy are imported where they are used, as together they take
    # seconds to import, which every module above this one (the CLI among them) would pay.
    import pandas as pd

__all__ = ["FEATURES", "Cluster", "Clustering", "cluster_accounts"]

Floats = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]

# Columns of the features table: volume (mean daily usage), growth (last 90 days over the 90
# before), volatility (coefficient of variation of deseasonalized daily usage), seasonality
# strength (0..1) with its period in days and peak quarter (1..4), share of wallet (0..1).
FEATURES = (
    "volume",
    "growth",
    "volatility",
    "seasonality_strength",
    "seasonal_period",
    "peak_quarter",
    "share_of_wallet",
)
_CLUSTERED = ("volume", "growth", "volatility", "seasonality_strength", "share_of_wallet")
_STRONG, _MODERATE = 0.6, 0.3
# Standard deviations from the population mean that make a volume high or low, and usage
# volatile: volatility is named only when it stands out, or every third account would be.
_HIGH, _VOLATILE = 0.5, 1.0


@dataclass(frozen=True, slots=True)
class Cluster:
    """One data-driven segment: its label, size, typical feature values and description."""

    label: int
    size: int
    description: str
    typical: Mapping[str, float]


@dataclass(frozen=True, slots=True, eq=False)
class Clustering:
    """Accounts grouped by usage features; labels and descriptions follow `accounts` order."""

    accounts: tuple[str, ...]
    labels: Labels
    clusters: tuple[Cluster, ...]  # label 0 has the highest volume
    silhouette: float | None  # simplified silhouette of the chosen k (None for one cluster)
    descriptions: tuple[str, ...]  # per account, in the same words
    notes: tuple[str, ...]  # what was imputed


def cluster_accounts(
    features: pd.DataFrame,
    k: int | None = None,
    k_range: tuple[int, int] = (2, 6),
    seed: int = 0,
    restarts: int = 4,
) -> Clustering:
    """Group accounts (one row each, index = account id, columns from FEATURES; only `volume` is
    required) by standardized k-means, with k fixed or chosen in `k_range` by simplified
    silhouette; the same input and seed give the same labels."""
    table, notes = _prepare(features)
    z = _standardize(_design(table))
    n = len(table)
    if k is not None and not 1 <= k <= n:
        raise InvalidInput("k", f"must be between 1 and the number of accounts ({n})")
    if k is None and not 2 <= k_range[0] <= k_range[1]:
        raise InvalidInput("k_range", "must be (low, high) with 2 <= low <= high")
    # k-means cannot make more clusters than there are distinct accounts.
    distinct = len(np.unique(z, axis=0))
    wanted = [k] if k is not None else range(k_range[0], k_range[1] + 1)
    choices = sorted({min(c, distinct) for c in wanted})
    best: tuple[float, Labels, Floats] | None = None
    for count in choices:
        found = _kmeans(z, count, seed, restarts)
        if found is None:
            continue
        quality = _silhouette(z, *found)
        if best is None or quality > best[0] + 1e-12:
            best = (quality, *found)
    labels, centroids = (best[1], best[2]) if best else _one_cluster(n, z.shape[1])
    labels, centroids = _relabel(labels, centroids)
    clusters = tuple(_describe(table, z, labels, c) for c in range(len(centroids)))
    silhouette = best[0] if best is not None and len(centroids) > 1 else None
    descriptions = _account_words(table, z)
    accounts = tuple(str(a) for a in table.index)
    return Clustering(accounts, labels, clusters, silhouette, descriptions, notes)


def _prepare(features: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    import pandas as pd

    if features.empty:
        raise InvalidInput("features", "has no accounts")
    if "volume" not in features.columns:
        raise InvalidInput("features.volume", "is required (mean daily usage per account)")
    unknown = sorted(set(features.columns) - set(FEATURES))
    if unknown:
        raise InvalidInput(f"features.{unknown[0]}", f"is not one of {', '.join(FEATURES)}")
    table = features.reindex(columns=list(FEATURES)).astype(np.float64)
    if table["volume"].isna().any() or (table["volume"] < 0).any():
        raise InvalidInput("features.volume", "must be given and not negative for every account")
    notes = []
    fills = {
        "growth": (1.0, "growth", "taken as flat"),
        "volatility": (table["volatility"].median(), "volatility", "median imputed"),
        "seasonality_strength": (0.0, "seasonality", "taken as none"),
        "share_of_wallet": (table["share_of_wallet"].median(), "share of wallet", "median imputed"),
    }
    for column, (fill, words, how) in fills.items():
        missing = int(table[column].isna().sum())
        if missing and table[column].notna().any():
            notes.append(f"{words} unknown for {missing} of {len(table)} accounts: {how}")
        table[f"{column}_known"] = table[column].notna()
        table[column] = table[column].fillna(0.0 if pd.isna(fill) else fill)
    table["growth"] = table["growth"].clip(lower=0.05, upper=20.0)
    return table, tuple(notes)


def _design(table: pd.DataFrame) -> Floats:
    columns = [
        np.log1p(table["volume"].to_numpy()),
        np.log(table["growth"].to_numpy()),
        table["volatility"].to_numpy(),
        table["seasonality_strength"].to_numpy(),
    ]
    if table["share_of_wallet_known"].any():
        columns.append(table["share_of_wallet"].to_numpy())
    return np.column_stack(columns).astype(np.float64)


def _standardize(x: Floats) -> Floats:
    if not len(x):
        return x
    spread = x.std(axis=0)
    # A feature the same for everyone tells accounts apart by nothing: it stays at zero.
    z: Floats = np.divide(x - x.mean(axis=0), spread, out=np.zeros_like(x), where=spread > 0)
    return z


def _kmeans(z: Floats, k: int, seed: int, restarts: int) -> tuple[Labels, Floats] | None:
    """The lowest-inertia of `restarts` k-means++ runs, each seeded from `seed`."""
    from scipy.cluster.vq import ClusterError, kmeans2  # type: ignore[import-untyped]

    if k == 1:
        return _one_cluster(len(z), z.shape[1], z)
    best = None
    for child in np.random.SeedSequence(seed).spawn(restarts):
        try:
            centroids, labels = kmeans2(
                z, k, iter=30, minit="++", missing="raise", rng=np.random.default_rng(child)
            )
        except ClusterError:
            continue  # an empty cluster: the next restart starts elsewhere
        inertia = float(((z - centroids[labels]) ** 2).sum())
        if best is None or inertia < best[0] - 1e-12:
            best = (inertia, labels.astype(np.int64), centroids)
    return (best[1], best[2]) if best else None


def _one_cluster(n: int, width: int, z: Floats | None = None) -> tuple[Labels, Floats]:
    centre = z.mean(axis=0, keepdims=True) if z is not None and len(z) else np.zeros((1, width))
    return np.zeros(n, dtype=np.int64), centre


def _silhouette(z: Floats, labels: Labels, centroids: Floats) -> float:
    """Simplified silhouette (distances to centroids, not to every point): O(n k), so choosing k
    for ten thousand accounts costs milliseconds instead of a 10^8 distance matrix."""
    if len(centroids) < 2:
        return -1.0
    distances = np.linalg.norm(z[:, None, :] - centroids[None, :, :], axis=2)
    own = distances[np.arange(len(z)), labels]
    distances[np.arange(len(z)), labels] = np.inf
    other = distances.min(axis=1)
    scale = np.maximum(own, other)
    return float(np.mean(np.divide(other - own, scale, out=np.zeros_like(own), where=scale > 0)))


def _relabel(labels: Labels, centroids: Floats) -> tuple[Labels, Floats]:
    """Label 0 for the highest-volume cluster, and so on: stable names whatever k-means's order."""
    order = np.lexsort((np.arange(len(centroids)), -centroids[:, 0]))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels].astype(np.int64), centroids[order]


def _describe(table: pd.DataFrame, z: Floats, labels: Labels, label: int) -> Cluster:
    members = table[labels == label]
    zs = z[labels == label]
    typical = {
        "volume": float(members["volume"].median()),
        "growth": float(np.exp(np.log(members["growth"]).mean())),
        "volatility": float(members["volatility"].mean()),
        "seasonality_strength": float(members["seasonality_strength"].mean()),
    }
    if members["share_of_wallet_known"].any():
        typical["share_of_wallet"] = float(members["share_of_wallet"].mean())
    seasonal = members[members["seasonality_strength"] >= _MODERATE]
    words = _words(
        volume_z=float(zs[:, 0].mean()),
        strength=typical["seasonality_strength"],
        period=_mode(seasonal["seasonal_period"]),
        quarter=_mode(seasonal["peak_quarter"]),
        volatility_z=float(zs[:, 2].mean()),
        growth=typical["growth"],
        share=typical.get("share_of_wallet"),
    )
    return Cluster(label, len(members), words, typical)


def _account_words(table: pd.DataFrame, z: Floats) -> tuple[str, ...]:
    """Each account's own description; plain arrays, as pandas row access costs ~100 µs."""
    strength = table["seasonality_strength"].to_numpy()
    period = table["seasonal_period"].to_numpy()
    quarter = table["peak_quarter"].to_numpy()
    growth = table["growth"].to_numpy()
    share = table["share_of_wallet"].to_numpy()
    known = table["share_of_wallet_known"].to_numpy()
    any_known = bool(known.any())
    return tuple(
        _words(
            volume_z=float(z[i, 0]),
            strength=float(strength[i]),
            period=None if np.isnan(period[i]) else float(period[i]),
            quarter=None if np.isnan(quarter[i]) else float(quarter[i]),
            volatility_z=float(z[i, 2]),
            growth=float(growth[i]),
            share=float(share[i]) if known[i] else None,
        )
        + (", share of wallet unknown" if any_known and not known[i] else "")
        for i in range(len(table))
    )


def _words(
    volume_z: float,
    strength: float,
    period: float | None,
    quarter: float | None,
    volatility_z: float,
    growth: float,
    share: float | None,
) -> str:
    """'high volume, strong yearly peak in Q4, growing': volume and volatility relative to the
    population, seasonality, growth and share of wallet on absolute scales."""
    level = "high" if volume_z >= _HIGH else "low" if volume_z <= -_HIGH else "mid"
    words = [f"{level} volume"]
    if strength >= _MODERATE:
        peak = "strong" if strength >= _STRONG else "moderate"
        cycle = _cycle(period)
        words.append(f"{peak} {cycle} peak" if cycle else f"{peak} seasonal peaks")
        if cycle == "yearly" and quarter is not None:
            words[-1] += f" in Q{round(quarter)}"
    elif volatility_z < _VOLATILE:
        words.append("steady")
    if volatility_z >= _VOLATILE:
        words.append("volatile")
    words.append("growing" if growth >= 1.1 else "shrinking" if growth <= 0.9 else "flat")
    if share is not None and share >= 0.6:
        words.append("most of their spend with us")
    elif share is not None and share <= 0.3:
        words.append("small share of wallet")
    return ", ".join(words)


def _cycle(period: float | None) -> str | None:
    if period is None or not np.isfinite(period):
        return None
    for low, high, name in ((6, 8, "weekly"), (26, 35, "monthly"), (85, 95, "quarterly")):
        if low <= period <= high:
            return name
    return "yearly" if 330 <= period <= 400 else f"{period:g}-day"


def _mode(values: pd.Series) -> float | None:
    present = values.dropna()
    if present.empty:
        return None
    counts = present.round().value_counts()
    return float(min(counts[counts == counts.max()].index))
