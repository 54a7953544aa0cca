"""Charts as inline SVG strings: pure functions of the numbers, no JavaScript, no assets."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

_GAP = Decimal("0.15")  # the share of each slot left empty between bars
_SCALE_BAND = 14  # px above the plot that hold the scale label, when there is one
# Characters XML 1.0 cannot carry even escaped (control characters, lone surrogates): a name
# holding one would otherwise break the whole page's SVG.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def daily_bars(
    values: Sequence[Decimal],
    *,
    width: int,
    height: int,
    title: str,
    labels: Sequence[str] | None = None,
    scale_label: bool = False,
) -> str:
    """An accessible SVG bar chart of `values`, one bar per value, scaled to the largest.

    Bars rise from a zero line (negative values hang below it); an all-zero series draws only
    that line. `labels` (one per value, e.g. the day) name each bar in its tooltip.
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    if labels is not None and len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels for {len(values)} values")
    if any(not value.is_finite() for value in values):
        raise ValueError("values must be finite numbers")
    top = max((*values, Decimal(0)))
    bottom = min((*values, Decimal(0)))
    span = top - bottom
    plot_top = _SCALE_BAND if scale_label and height > 2 * _SCALE_BAND else 0
    plot_height = Decimal(height - plot_top)
    # Where the zero line sits, measured down from the top of the plot.
    zero = plot_height if span == 0 else top / span * plot_height
    slot = Decimal(width) / len(values) if values else Decimal(width)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
    ]
    if scale_label:
        parts.append(
            f'<text class="scale" x="0" y="{_SCALE_BAND - 3}" font-size="11">'
            f"max {escape(quantity_text(top))}</text>"
        )
    for index, value in enumerate(values):
        bar = abs(value) / span * plot_height if span else Decimal(0)
        y = plot_top + ((top - max(value, Decimal(0))) / span * plot_height if span else zero)
        tooltip = quantity_text(value)
        if labels is not None:
            tooltip = f"{labels[index]}: {tooltip}"
        parts.append(
            f'<rect class="bar" x="{slot * index + slot * _GAP / 2:.2f}" y="{y:.2f}" '
            f'width="{slot * (1 - _GAP):.2f}" height="{bar:.2f}">'
            f"<title>{_text(tooltip)}</title></rect>"
        )
    baseline = plot_top + zero
    parts.append(
        f'<line class="zero" x1="0" x2="{width}" y1="{baseline:.2f}" y2="{baseline:.2f}"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


def quantity_text(value: Decimal) -> str:
    """A quantity as people read it: thousands separated, no trailing zeros."""
    return f"{value.normalize():,f}" if value else "0"


def band_chart(
    actual: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    expected: Sequence[float],
    *,
    width: int,
    height: int,
    title: str,
    labels: Sequence[str] | None = None,
    scale_label: bool = False,
) -> str:
    """An accessible SVG of days against a prediction interval: the interval `lower`..`upper`
    shaded, `expected` as a line, and `actual` as one dot per day.

    A dot outside its day's interval has the class `outside` (and `below` or `above`) and says
    so in its tooltip, so it reads without colour as well as with it.
    """
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    count = len(actual)
    if not len(lower) == len(upper) == len(expected) == count:
        raise ValueError(
            f"{count} actual, {len(lower)} lower, {len(upper)} upper and {len(expected)} "
            "expected values: each day needs one of each"
        )
    if labels is not None and len(labels) != count:
        raise ValueError(f"{len(labels)} labels for {count} values")
    every = (*actual, *lower, *upper, *expected)
    if not all(math.isfinite(value) for value in every):
        raise ValueError("values must be finite numbers")
    # Halves, so that the span of two huge values of opposite sign does not overflow.
    top = max((*every, 0.0)) / 2
    bottom = min((*every, 0.0)) / 2
    span = top - bottom
    plot_top = _SCALE_BAND if scale_label and height > 2 * _SCALE_BAND else 0
    plot_height = height - plot_top

    def y(value: float) -> float:
        return plot_top + ((top - value / 2) / span * plot_height if span else plot_height)

    slot = width / count if count else float(width)
    centres = [slot * (index + 0.5) for index in range(count)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart band-chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
    ]
    if scale_label:
        parts.append(
            f'<text class="scale" x="0" y="{_SCALE_BAND - 3}" font-size="11">'
            f"max {_text(_reading(top * 2))}</text>"
        )
    if count:
        # The band runs edge to edge, so that a single day still shows its interval.
        xs = [0.0, *centres, float(width)]
        ups = [upper[0], *upper, upper[-1]]
        lows = [lower[0], *lower, lower[-1]]
        outline = [*zip(xs, ups, strict=True), *reversed(list(zip(xs, lows, strict=True)))]
        parts.append(f'<polygon class="band" points="{_points(outline, y)}"/>')
        line = list(zip(centres, expected, strict=True))
        parts.append(f'<polyline class="expected" fill="none" points="{_points(line, y)}"/>')
    parts.append(f'<line class="zero" x1="0" x2="{width}" y1="{y(0):.2f}" y2="{y(0):.2f}"/>')
    radius = max(1.5, min(4.0, slot * 0.3))
    for index, value in enumerate(actual):
        side = "below" if value < lower[index] else "above" if value > upper[index] else ""
        tooltip = (
            f"{_reading(value)} (expected {_reading(expected[index])}, "
            f"range {_reading(lower[index])} to {_reading(upper[index])})"
        )
        if labels is not None:
            tooltip = f"{labels[index]}: {tooltip}"
        if side:
            tooltip += f", {side} the range"
        classes = f"actual outside {side}" if side else "actual"
        parts.append(
            f'<circle class="{classes}" cx="{centres[index]:.2f}" cy="{y(value):.2f}" '
            f'r="{radius:.2f}"><title>{_text(tooltip)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _text(text: str) -> str:
    """`text` for an SVG attribute or element: escaped, without what XML cannot hold."""
    return escape(_NOT_XML.sub("", text))


def _points(pairs: Sequence[tuple[float, float]], y: Callable[[float], float]) -> str:
    return " ".join(f"{x:.2f},{y(value):.2f}" for x, value in pairs)


def _reading(value: float) -> str:
    """A modelled quantity to one decimal, as people read it (no '.0', no '-0')."""
    text = f"{value:,.1f}".removesuffix(".0")
    return "0" if text == "-0" else text
