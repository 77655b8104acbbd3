"""The input limits of JSON documents (``mosaico.protocol.limits``): what is refused, why,
and that whatever is accepted dumps back to valid, finite UTF-8 JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.limits import MAX_DEPTH, nesting_depth, parse_json


def _refusal(body: bytes) -> str:
    with pytest.raises(InvalidArgument) as caught:
        parse_json(body, "body")
    return str(caught.value)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 990, 100_000])
def test_deep_nesting_is_refused_before_parsing(levels: int) -> None:
    assert "deeper than 64 levels" in _refusal(b"[" * levels + b"]" * levels)
    nested = b'{"a":' * levels + b"1" + b"}" * levels
    assert "deeper than 64 levels" in _refusal(nested)


def test_nesting_at_the_limit_is_accepted() -> None:
    value = parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "body")
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []


def test_brackets_inside_strings_do_not_count() -> None:
    body = json.dumps({"text": "[" * 1000, "escaped": '\\"[[[[' * 100}).encode()
    assert parse_json(body, "body")["text"] == "[" * 1000
    assert nesting_depth(b'"\\"[[[" [[1]]') == 2


def test_unterminated_strings_with_many_escapes_are_refused_as_bad_json() -> None:
    # A backtracking scan of strings would take quadratic time on this input.
    # 80 brackets (more than the limit) make the depth check scan the strings.
    body = b'{"a":[' + b"[]," * 40 + b'"' + b'\\"' * 400_000
    assert "not valid JSON" in _refusal(body)


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("1" * 5000, "5000 digits is out of range"),
        ("-" + "9" * 30, "out of the 64-bit range"),
        (str(2**64), "out of the 64-bit range"),
        (str(-(2**63) - 1), "out of the 64-bit range"),
        ("NaN", "NaN is not JSON"),
        ("Infinity", "Infinity is not JSON"),
        ("-Infinity", "-Infinity is not JSON"),
        ("1e400", "overflows a double"),
        ("0." + "1" * 100, "too long"),
    ],
)
def test_numbers_beyond_the_limits_are_refused(literal: str, reason: str) -> None:
    message = _refusal(f'{{"a": [1, {{"b": {literal}}}]}}'.encode())
    assert "the value at 'a[1].b': " in message and reason in message


@pytest.mark.parametrize("value", [2**64 - 1, -(2**63), 1.5e308, -0.0, 5e-324])
def test_numbers_within_the_limits_read_exactly(value: float) -> None:
    assert parse_json(json.dumps({"a": value}).encode(), "body") == {"a": value}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"a": "\\ud800"}', "the value at 'a'"),
        (b'{"a": {"b": ["x", "y\\udfff"]}}', "the value at 'a.b[1]'"),
        (b'{"\\udc00": 1}', "a key of 'the document'"),
        (b'{"m": {"\\ud800x": 1}}', "a key of 'm'"),
        (b'"\\ud800"', "the document"),
    ],
)
def test_lone_surrogates_are_refused_naming_where(body: bytes, where: str) -> None:
    message = _refusal(body)
    assert where in message and "lone UTF-16 surrogate" in message


def test_surrogate_pairs_are_text() -> None:
    assert parse_json(b'{"emoji": "\\ud83d\\ude00"}', "body") == {"emoji": "\U0001f600"}


def test_size_and_encoding() -> None:
    assert "larger than the 10 limit" in str(
        pytest.raises(InvalidArgument, parse_json, b'{"a": "0123456789"}', "body", 10).value
    )
    assert "not valid UTF-8 (byte 6)" in _refusal(b'{"a":"\xff"}')


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)


def _within_limits(value: Any) -> bool:
    """The limits restated: finite numbers, 64-bit integers, bounded depth."""
    for scalar in _scalars(value):
        if isinstance(scalar, float) and not math.isfinite(scalar):
            return False
        if isinstance(scalar, int) and not -(2**63) <= scalar < 2**64:
            return False
    return nesting_depth(json.dumps(value).encode()) <= MAX_DEPTH


def _scalars(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scalars(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scalars(v)]
    return [value]


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_accepted_documents_round_trip_as_strict_json(value: Any) -> None:
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")  # st.text(): no surrogates
    try:
        parsed = parse_json(body, "body")
    except InvalidArgument:
        assert not _within_limits(value)
        return
    assert _within_limits(value)
    strict = json.dumps(parsed, allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert json.loads(strict) == json.loads(json.dumps(value))
