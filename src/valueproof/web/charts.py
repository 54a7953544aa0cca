"""Charts as inline SVG strings: pure functions of the numbers, no JavaScript, no assets."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

_GAP = Decimal("0.15")  # the share of each slot left empty between bars
_SCALE_BAND = 14  # px above the plot that hold the scale label, when there is one


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
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
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
            f"<title>{escape(tooltip)}</title></rect>"
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
