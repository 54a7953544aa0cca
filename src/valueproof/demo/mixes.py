"""What each demo account's events look like: its packages, countries, channels, modes and lanes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from valueproof.demo.lines import FloatArray

_COUNTRIES: Final = {
    "NA": ("US", "CA"),
    "EMEA": ("GB", "DE", "FR", "NL", "ES"),
    "APAC": ("AU", "IN", "SG", "JP"),
    "LATAM": ("BR", "MX", "CO", "CL"),
}
_CITIES: Final = {
    "NA": ("CHI", "DAL", "ATL", "LAX", "NYC", "SEA", "DEN", "MEM"),
    "EMEA": ("LON", "ROT", "HAM", "PAR", "MIL", "MAD", "WAW"),
    "APAC": ("SIN", "SHA", "SYD", "TYO", "BOM", "HKG"),
    "LATAM": ("SAO", "MEX", "BOG", "SCL", "LIM", "BUE"),
}
_PACKAGES: Final = ("basic", "standard", "premium")
_CHANNELS: Final = ("sms", "email", "whatsapp")


@dataclass(frozen=True, slots=True)
class Mix:
    """An account's habits: which packages, countries, channels, modes and lanes it uses."""

    product: str
    # option name -> (options, cumulative weights)
    choices: dict[str, tuple[tuple[str, ...], FloatArray]] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    channel_shares: tuple[float, ...] = ()
    truckload_share: float = 0.0

    @staticmethod
    def draw(rng: np.random.Generator, product: str, region: str) -> Mix:
        if product == "background_checks":
            return _check_mix(rng, region)
        if product == "messaging":
            return _message_mix(rng, region)
        return _shipment_mix(rng, region)

    def properties(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        if self.product == "background_checks":
            packages = self._sample(rng, "package", count)
            countries = self._sample(rng, "country", count)
            return [{"package": p, "country": c} for p, c in zip(packages, countries, strict=True)]
        return self._shipments(rng, count)

    def _sample(self, rng: np.random.Generator, name: str, count: int) -> list[str]:
        options, cumulative = self.choices[name]
        picked = np.searchsorted(cumulative, rng.random(count), side="right")
        return [options[i] for i in picked.tolist()]

    def _shipments(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        truckload = (rng.random(count) < self.truckload_share).tolist()
        full = np.clip(rng.lognormal(math.log(14_000.0), 0.25, count), 2_000.0, 24_000.0)
        partial = np.clip(rng.lognormal(math.log(900.0), 0.7, count), 50.0, 9_000.0)
        weights = np.round(np.where(truckload, full, partial), 1).tolist()
        lanes = self._sample(rng, "lane", count)
        return [
            {"mode": "TL" if tl else "LTL", "weight_kg": kg, "lane": lane}
            for tl, kg, lane in zip(truckload, weights, lanes, strict=True)
        ]


def _check_mix(rng: np.random.Generator, region: str) -> Mix:
    countries = list(_COUNTRIES[region])
    if rng.random() < 0.4:  # some employers also screen abroad
        abroad = [c for r, cs in _COUNTRIES.items() if r != region for c in cs]
        countries += [abroad[i] for i in rng.choice(len(abroad), size=2, replace=False)]
    home = len(_COUNTRIES[region])
    concentration = np.array([3.0] * home + [0.3] * (len(countries) - home))
    return Mix(
        product="background_checks",
        choices={
            "package": (_PACKAGES, cumulative_weights(rng.dirichlet([5.0, 3.5, 1.5]))),
            "country": (tuple(countries), cumulative_weights(rng.dirichlet(concentration))),
        },
    )


def _message_mix(rng: np.random.Generator, region: str) -> Mix:
    # WhatsApp is the default channel outside North America
    preference = np.array([0.5, 0.4, 0.1] if region == "NA" else [0.3, 0.3, 0.4])
    used = int(rng.choice(3, p=[0.65, 0.25, 0.1])) + 1
    picked = sorted(rng.choice(3, size=used, replace=False, p=preference).tolist())
    shares = rng.dirichlet([2.0] * used)
    return Mix(
        product="messaging",
        channels=tuple(_CHANNELS[i] for i in picked),
        channel_shares=tuple(float(s) for s in shares),
    )


def _shipment_mix(rng: np.random.Generator, region: str) -> Mix:
    cities = _CITIES[region]
    lane_count = int(rng.integers(2, 9))
    lanes: set[str] = set()
    while len(lanes) < lane_count:
        origin, destination = rng.choice(len(cities), size=2, replace=False).tolist()
        lanes.add(f"{cities[origin]}-{cities[destination]}")
    return Mix(
        product="logistics",
        choices={
            "lane": (tuple(sorted(lanes)), cumulative_weights(rng.dirichlet([1.0] * lane_count)))
        },
        truckload_share=float(rng.beta(2.0, 3.0)),
    )


def cumulative_weights(weights: FloatArray) -> FloatArray:
    """Cumulative weights ending at exactly 1, for sampling with `searchsorted`."""
    cumulative = np.cumsum(weights)
    cumulative[-1] = 1.0
    return np.asarray(cumulative, dtype=np.float64)
