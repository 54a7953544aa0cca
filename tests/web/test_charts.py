"""Tests of the SVG charts: well-formed, accessible, scaled to the largest value, text escaped;
days against a band marked where they leave it."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valueproof.web.charts import band_chart, daily_bars, quantity_text

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars(root: ET.Element) -> list[dict[str, float]]:
    return [
        {name: float(rect.attrib[name]) for name in ("x", "y", "width", "height")}
        for rect in root.iter(f"{SVG}rect")
    ]


def chart(
    values: list[Decimal],
    title: str = "usage",
    labels: list[str] | None = None,
    scale_label: bool = False,
) -> ET.Element:
    """A 300 x 100 chart, parsed."""
    svg = daily_bars(
        values, width=300, height=100, title=title, labels=labels, scale_label=scale_label
    )
    return parse(svg)


def test_is_an_accessible_image_with_a_title() -> None:
    root = chart([Decimal(1), Decimal(2)], title="Acme: checks, daily")
    assert root.tag == f"{SVG}svg"
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == "Acme: checks, daily"
    assert root[0].tag == f"{SVG}title"
    assert root[0].text == "Acme: checks, daily"
    assert (root.attrib["width"], root.attrib["height"]) == ("300", "100")


def test_the_largest_value_fills_the_height_and_the_others_scale() -> None:
    heights = [bar["height"] for bar in bars(chart([Decimal(5), Decimal(10), Decimal(0)]))]
    assert heights == [50.0, 100.0, 0.0]


def test_bars_stand_on_the_bottom_in_order() -> None:
    drawn = bars(chart([Decimal(1), Decimal(4)]))
    assert [bar["y"] + bar["height"] for bar in drawn] == [100.0, 100.0]
    assert drawn[0]["x"] < drawn[1]["x"]


def test_all_zero_draws_flat_bars_and_the_zero_line() -> None:
    root = chart([Decimal(0)] * 30)
    assert all(bar["height"] == 0 for bar in bars(root))
    line = root.find(f"{SVG}line")
    assert line is not None
    assert line.attrib["y1"] == "100.00"


def test_an_empty_series_is_only_the_frame() -> None:
    root = chart([])
    assert bars(root) == []


def test_negative_values_hang_below_the_zero_line() -> None:
    root = chart([Decimal(3), Decimal(-1)])
    up, down = bars(root)
    line = root.find(f"{SVG}line")
    assert line is not None
    zero = float(line.attrib["y1"])
    assert zero == 75.0
    assert up["y"] + up["height"] == zero
    assert down["y"] == zero
    assert down["height"] == 25.0


def test_text_is_escaped() -> None:
    svg = daily_bars(
        [Decimal(1)], width=10, height=10, title='<script>"x"</script>', labels=["a&b"]
    )
    assert "<script>" not in svg
    root = parse(svg)
    assert root.attrib["aria-label"] == '<script>"x"</script>'
    tooltip = root.find(f"{SVG}rect/{SVG}title")
    assert tooltip is not None
    assert tooltip.text == "a&b: 1"


def test_labels_name_each_bar() -> None:
    root = chart([Decimal("1.5"), Decimal(2000)], labels=["2026-03-01", "2026-03-02"])
    titles = [title.text for title in root.findall(f"{SVG}rect/{SVG}title")]
    assert titles == ["2026-03-01: 1.5", "2026-03-02: 2,000"]


def test_scale_label_shows_the_maximum_above_the_bars() -> None:
    root = chart([Decimal(7), Decimal(1234)], scale_label=True)
    label = root.find(f"{SVG}text")
    assert label is not None
    assert label.text == "max 1,234"
    assert min(bar["y"] for bar in bars(root)) >= 14


@pytest.mark.parametrize(
    ("values", "labels", "reason"),
    [
        ([Decimal("NaN")], None, "finite"),
        ([Decimal("Infinity")], None, "finite"),
        ([Decimal(1)], ["a", "b"], "labels"),
    ],
)
def test_refuses_what_it_cannot_draw(
    values: list[Decimal], labels: list[str] | None, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        daily_bars(values, width=10, height=10, title="t", labels=labels)


def test_refuses_an_empty_canvas() -> None:
    with pytest.raises(ValueError, match="positive"):
        daily_bars([Decimal(1)], width=0, height=10, title="t")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal(0), "0"),
        (Decimal("0.000000"), "0"),
        (Decimal("1234567.500000"), "1,234,567.5"),
        (Decimal("100"), "100"),
        (Decimal("-3.25"), "-3.25"),
    ],
)
def test_quantity_text(value: Decimal, text: str) -> None:
    assert quantity_text(value) == text


quantities = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=6
)


@given(
    values=st.lists(quantities, max_size=120),
    width=st.integers(1, 2000),
    height=st.integers(1, 500),
    scale_label=st.booleans(),
)
def test_bars_fit_the_chart(
    values: list[Decimal], width: int, height: int, scale_label: bool
) -> None:
    root = parse(daily_bars(values, width=width, height=height, title="t", scale_label=scale_label))
    drawn = bars(root)
    assert len(drawn) == len(values)
    for bar in drawn:
        assert 0 <= bar["height"] <= height
        assert bar["y"] >= 0
        # Coordinates are printed to 0.01 px; a bar and its offset may each round up by 0.005.
        assert bar["y"] + bar["height"] <= height + 0.01
        assert bar["x"] >= 0 and bar["x"] + bar["width"] <= width + 0.01


@given(values=st.lists(quantities.filter(lambda value: value > 0), min_size=1, max_size=60))
def test_the_tallest_bar_is_the_largest_value(values: list[Decimal]) -> None:
    drawn = bars(parse(daily_bars(values, width=100, height=50, title="t")))
    largest = values.index(max(values))
    # Heights print to 0.01 px, so near-equal values may draw equally tall: the largest value's
    # bar is full height and no bar is taller.
    assert drawn[largest]["height"] == 50
    assert all(bar["height"] <= 50 for bar in drawn)


# --- days against a band ---------------------------------------------------------------------


def band(
    actual: list[float],
    lower: list[float] | None = None,
    upper: list[float] | None = None,
    expected: list[float] | None = None,
    labels: list[str] | None = None,
    title: str = "calls against the seasonal range",
) -> ET.Element:
    """A 280 x 80 band chart, parsed; the band defaults to 10..20 around 15."""
    size = len(actual)
    svg = band_chart(
        actual,
        [10.0] * size if lower is None else lower,
        [20.0] * size if upper is None else upper,
        [15.0] * size if expected is None else expected,
        width=280,
        height=80,
        title=title,
        labels=labels,
    )
    return parse(svg)


def marks(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{SVG}circle")


def test_band_chart_is_an_accessible_image_with_band_line_and_dots() -> None:
    root = band([12.0, 25.0, 3.0], title="Acme: calls <daily>")
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == "Acme: calls <daily>"
    assert root[0].tag == f"{SVG}title" and root[0].text == "Acme: calls <daily>"
    assert root.find(f"{SVG}polygon[@class='band']") is not None
    assert root.find(f"{SVG}polyline[@class='expected']") is not None
    assert [mark.attrib["class"] for mark in marks(root)] == [
        "actual",
        "actual outside above",
        "actual outside below",
    ]


def test_band_chart_tooltips_give_the_day_and_its_numbers() -> None:
    root = band([12.0, 25.0], labels=["2026-03-01", "2026-03-02"], expected=[15.25, 1500.0])
    titles = [mark.findtext(f"{SVG}title") for mark in marks(root)]
    assert titles == [
        "2026-03-01: 12 (expected 15.2, range 10 to 20)",
        "2026-03-02: 25 (expected 1,500, range 10 to 20), above the range",
    ]


def test_band_chart_puts_larger_values_higher() -> None:
    root = band([0.0, 20.0, 40.0], upper=[40.0] * 3)
    heights = [float(mark.attrib["cy"]) for mark in marks(root)]
    assert heights == [80.0, 40.0, 0.0]


def test_band_chart_scale_label_shows_the_maximum_above_the_plot() -> None:
    svg = band_chart(
        [7.0, 12.5],
        [5.0, 5.0],
        [1234.0, 9.0],
        [8.0, 8.0],
        width=200,
        height=100,
        title="t",
        scale_label=True,
    )
    root = parse(svg)
    assert root.findtext(f"{SVG}text") == "max 1,234"
    assert min(float(mark.attrib["cy"]) for mark in marks(root)) >= 14


def test_band_chart_of_no_days_is_only_the_frame() -> None:
    root = band([])
    assert marks(root) == [] and root.find(f"{SVG}polygon") is None


@pytest.mark.parametrize(
    ("series", "labels", "reason"),
    [
        (([1.0], [0.0, 0.0], [2.0], [1.0]), None, "each day"),
        (([1.0], [0.0], [2.0], []), None, "each day"),
        (([1.0, 2.0], [0.0, 0.0], [2.0, 2.0], [1.0, 1.0]), ["a"], "labels"),
        (([math.nan], [0.0], [2.0], [1.0]), None, "finite"),
        (([1.0], [0.0], [math.inf], [1.0]), None, "finite"),
    ],
)
def test_band_chart_refuses_what_it_cannot_draw(
    series: tuple[list[float], list[float], list[float], list[float]],
    labels: list[str] | None,
    reason: str,
) -> None:
    with pytest.raises(ValueError, match=reason):
        band_chart(*series, width=10, height=10, title="t", labels=labels)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (-5, 10)])
def test_band_chart_refuses_an_empty_canvas(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        band_chart([1.0], [0.0], [2.0], [1.0], width=width, height=height, title="t")


finite = st.floats(allow_nan=False, allow_infinity=False)
days = st.integers(0, 40).flatmap(
    lambda size: st.tuples(*(st.lists(finite, min_size=size, max_size=size) for _ in range(4)))
)


@given(
    series=days,
    width=st.integers(1, 2000),
    height=st.integers(1, 500),
    title=st.text(),
    scale_label=st.booleans(),
)
def test_band_chart_marks_each_day_and_flags_exactly_those_outside(
    series: tuple[list[float], list[float], list[float], list[float]],
    width: int,
    height: int,
    title: str,
    scale_label: bool,
) -> None:
    actual, lower, upper, expected = series
    labels = [f"day {index}" for index in range(len(actual))]
    svg = band_chart(
        actual,
        lower,
        upper,
        expected,
        width=width,
        height=height,
        title=title,
        labels=labels,
        scale_label=scale_label,
    )
    drawn = marks(parse(svg))  # well-formed XML, whatever the numbers and the title
    assert len(drawn) == len(actual)
    for mark, value, low, high in zip(drawn, actual, lower, upper, strict=True):
        classes = mark.attrib["class"].split()
        assert ("outside" in classes) == (value < low or value > high)
        assert ("below" in classes) == (value < low)
        assert 0 <= float(mark.attrib["cy"]) <= height + 0.01
        assert 0 <= float(mark.attrib["cx"]) <= width + 0.01
