"""What a JSON document received from a peer may hold: the one place that bounds it.

Every JSON body, command, ticket and ``app_metadata`` document is read by ``parse_json``,
which refuses, with ``InvalidArgument`` naming the document and the reason:

- more than ``max_bytes`` bytes, or text that is not UTF-8;
- objects and arrays nested deeper than ``MAX_DEPTH`` (checked before parsing, so no
  recursion limit is ever met, here or when the document is read back);
- integer literals outside int64 / uint64 (``-2**63 .. 2**64-1``), number literals longer
  than ``MAX_NUMBER_CHARS``, floats that overflow to infinity;
- the non-standard literals ``NaN``, ``Infinity`` and ``-Infinity``;
- a lone UTF-16 surrogate (``"\\ud800"``) anywhere, in a key or a string value: it cannot
  be stored as UTF-8 nor sent back.

What is accepted therefore always dumps back to valid, finite, UTF-8 JSON.

>>> parse_json(b'{"a": [1, 2.5, "x"]}', "body")
{'a': [1, 2.5, 'x']}
>>> parse_json(b'{"a": NaN}', "body")
Traceback (most recent call last):
...
mosaico.protocol.errors.InvalidArgument: invalid argument: body: the value at 'a': NaN is not JSON
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from mosaico.protocol.errors import InvalidArgument

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted in any document (the document itself is 1)."""
MAX_NUMBER_CHARS = 64
"""Longest number literal accepted (digits, sign, point and exponent)."""
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
# A string literal, or an unterminated one up to the end: the optional closing quote makes
# every match succeed where it starts, so a scan is linear whatever the input.
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def parse_json(data: bytes | str, what: str, max_bytes: int | None = None) -> Any:
    """Parse one JSON document within the limits of this module.

    Args:
        data: the document, UTF-8 bytes or text.
        what: the document's name in error messages (``"topic_create request body"``).
        max_bytes: the largest document accepted, or None for no size limit.

    Raises:
        InvalidArgument: the document breaks a limit or is not JSON; the message says which.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if max_bytes is not None and len(raw) > max_bytes:
        raise InvalidArgument(f"{what} is {len(raw)} bytes, larger than the {max_bytes} limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    _check_depth(raw, what)
    refused: list[_Refused] = []  # numbers out of the limits, parsed as markers
    try:
        value = json.loads(
            text,
            parse_int=lambda literal: _integer(literal, refused),
            parse_float=lambda literal: _float(literal, refused),
            parse_constant=lambda literal: _refuse(f"{literal} is not JSON", refused),
        )
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    if refused:
        where = _path_of(value, "", lambda key: False, lambda leaf: leaf is refused[0])
        raise InvalidArgument(f"{what}: {where}: {refused[0].reason}")
    if _SURROGATE_ESCAPE.search(raw):  # strict UTF-8 holds none: only escapes make them
        check_text(value, what)
    return value


class _Refused:
    """Stands in the parsed document for a number the limits refuse, so that the error can
    name where it was."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _refuse(reason: str, refused: list[_Refused]) -> _Refused:
    refused.append(_Refused(reason))
    return refused[-1]


def nesting_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON text, string contents aside (0 for a scalar).

    Exact for valid JSON and for the valid prefix of invalid JSON (all a parser reaches).
    """
    codes = np.frombuffer(_STRINGS.sub(b'""', raw), np.uint8)
    steps = np.isin(codes, _OPEN).astype(np.int64) - np.isin(codes, _CLOSE)
    return int(np.cumsum(steps).max(initial=0))


def _check_depth(raw: bytes, what: str) -> None:
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return  # fewer brackets than the limit: no need to look closer (the usual case)
    if nesting_depth(raw) > MAX_DEPTH:
        raise InvalidArgument(f"{what} nests objects or arrays deeper than {MAX_DEPTH} levels")


def _integer(literal: str, refused: list[_Refused]) -> int | _Refused:
    if len(literal) > MAX_NUMBER_CHARS:
        return _refuse(f"an integer of {len(literal)} digits is out of range", refused)
    value = int(literal)
    if not _INT_MIN <= value <= _INT_MAX:
        return _refuse(f"integer {literal} is out of the 64-bit range", refused)
    return value


def _float(literal: str, refused: list[_Refused]) -> float | _Refused:
    if len(literal) > MAX_NUMBER_CHARS:
        return _refuse(f"a number literal of {len(literal)} characters is too long", refused)
    value = float(literal)
    if not math.isfinite(value):
        return _refuse(f"number {literal} overflows a double", refused)
    return value


def check_text(value: Any, what: str) -> None:
    """Refuse a lone UTF-16 surrogate in any key or string of a parsed document.

    Raises:
        InvalidArgument: naming the path of the first string holding one.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        where = _path_of(value, "", _has_surrogate, _is_surrogate_text)
        raise InvalidArgument(
            f"{what}: {where} holds a lone UTF-16 surrogate (text must be valid Unicode)"
        ) from None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _is_surrogate_text(leaf: Any) -> bool:
    return isinstance(leaf, str) and _has_surrogate(leaf)


def _path_of(
    value: Any, path: str, bad_key: Callable[[str], bool], bad_leaf: Callable[[Any], bool]
) -> str:
    """Where the first bad key or leaf of a parsed document is: ``the value at 'a.b[2]'``,
    ``a key of 'a.b'``, ``the document``; "" when there is none."""
    if isinstance(value, dict):
        for key, item in value.items():
            if bad_key(key):
                return f"a key of {path or 'the document'!r}"
            if found := _path_of(item, f"{path}.{key}" if path else key, bad_key, bad_leaf):
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if found := _path_of(item, f"{path}[{index}]", bad_key, bad_leaf):
                return found
    elif bad_leaf(value):
        return f"the value at {path!r}" if path else "the document"
    return ""
