"""RFC 8785 canonical JSON: published vectors, and the fast path held to the reference encoder.

Vectors: cyberphone/json-canonicalization's testdata (the RFC author's input/output pairs and ES6
number samples) and RFC 8785 Appendix B's number serialization samples.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from valueproof.ledger.canonical import canonical_json
from valueproof.ledger.errors import CanonicalizationError

VECTORS = Path(__file__).parent / "vectors"
CYBERPHONE = json.loads((VECTORS / "rfc8785_cyberphone_testdata.json").read_text("utf-8"))
APPENDIX_B = json.loads((VECTORS / "rfc8785_appendix_b.json").read_text("utf-8"))


def binary64(ieee_hex: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(ieee_hex.zfill(16)))[0]
    return value


def test_vector_files_name_their_source() -> None:
    assert CYBERPHONE["source"]
    assert APPENDIX_B["source"]


@pytest.mark.parametrize("case", CYBERPHONE["cases"], ids=lambda case: case["name"])
def test_cyberphone_testdata(case: dict[str, Any]) -> None:
    expected = case["output"].encode("utf-8")
    assert canonical_json(json.loads(case["input"])) == expected
    if "output_hex" in case:
        assert expected == bytes.fromhex(case["output_hex"].replace(" ", ""))


@pytest.mark.parametrize(
    "sample", CYBERPHONE["es6_number_samples"], ids=lambda sample: sample["ieee_hex"]
)
def test_cyberphone_es6_number_samples(sample: dict[str, str]) -> None:
    assert canonical_json(binary64(sample["ieee_hex"])) == sample["expected"].encode()


@pytest.mark.parametrize("sample", APPENDIX_B["samples"], ids=lambda sample: sample["ieee_hex"])
def test_rfc8785_appendix_b_numbers(sample: dict[str, Any]) -> None:
    value = binary64(sample["ieee_hex"])
    if sample["expected"] is None:
        for shape in (value, [value], {"n": value}, {"\u00e9": [value]}):
            with pytest.raises(CanonicalizationError):
                canonical_json(shape)
        return
    assert canonical_json(value) == sample["expected"].encode()
    assert canonical_json({"n": [value]}) == b'{"n":[' + sample["expected"].encode() + b"]}"


# --- The fast path against the reference encoder --------------------------------------------------

keys = st.one_of(
    st.text(max_size=6),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0xFFFF), max_size=4),
    st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), max_size=3),
    st.sampled_from(["a", "A", "", "\u20ac", "\U0001f602", "\ufb33", "\u0080", "</script>", "1"]),
)
integers = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.integers(min_value=2**53 - 3, max_value=2**53 + 3),
    st.integers(min_value=-(2**53) - 3, max_value=-(2**53) + 3),
    st.integers(min_value=-(2**70), max_value=2**70),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-300, max_value=1e-300, allow_nan=False),
    st.sampled_from([-0.0, 0.0, 5e-324, -5e-324, 1.7976931348623157e308, 1e21, 1e-7, 2.0**53]),
    st.builds(math.ldexp, st.floats(min_value=0.5, max_value=1.0), st.integers(-1074, 1023)),
)
scalars = st.one_of(st.none(), st.booleans(), integers, floats, st.text(max_size=8), keys)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)


def _same_as_reference(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except Exception as reference_error:  # whatever the reference refuses, we refuse alike
        with pytest.raises(CanonicalizationError) as raised:
            canonical_json(value)
        assert type(raised.value.__cause__) is type(reference_error)
        return
    assert canonical_json(value) == expected


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_same_bytes_as_the_reference_encoder(value: object) -> None:
    _same_as_reference(value)


unencodable = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=2**53, max_value=2**80),
    st.integers(min_value=-(2**80), max_value=-(2**53)),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1),
    st.builds(bytes),
    st.builds(set),
)


@settings(max_examples=150, deadline=None)
@given(unencodable, st.sampled_from(["bare", "list", "value", "key"]), st.data())
def test_the_same_values_fail_as_in_the_reference_encoder(
    bad: object, where: str, data: st.DataObject
) -> None:
    wrapped: object
    if where == "key":  # a bad key itself where it can be one, else a bad value under a good key
        wrapped = {bad: 1} if isinstance(bad, str | int | float | bytes) else {data.draw(keys): bad}
    else:
        wrapped = {"bare": bad, "list": [1, bad], "value": {"k": bad, "a": 1}}[where]
    _same_as_reference(wrapped)
