"""Decoding of JSON documents received from a peer, with errors that say what was wrong.

Every reader takes ``what``, the name of the document (``"topic_create request"``), and
raises ``InvalidArgument`` with a message that starts with it and names the key:

>>> try:
...     req_str({"locator": 3}, "locator", "ticket")
... except InvalidArgument as exc:
...     print(exc)
invalid argument: ticket: 'locator' must be a string, got int
"""

from __future__ import annotations

import json
from typing import Any

from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.limits import parse_json

_MISSING = object()


def load_object(data: bytes | str, what: str, max_bytes: int | None = None) -> dict[str, Any]:
    """Parse ``data`` as a JSON object within the input limits (``mosaico.protocol.limits``);
    ``what`` names the document in error messages.

    Raises:
        InvalidArgument: ``data`` is over ``max_bytes``, not UTF-8, empty, not JSON, beyond
            a limit (depth, number size, NaN, lone surrogates), or JSON that is not an object.
    """
    if not data.strip():
        raise InvalidArgument(f"{what} is empty, expected a JSON object")
    value = parse_json(data, what, max_bytes)
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def dump_object(value: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON of ``value`` (no spaces, non-ASCII text kept as is)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _get(obj: dict[str, Any], key: str, what: str, required: bool) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING and required:
        raise InvalidArgument(f"{what}: missing key {key!r}")
    return None if value is _MISSING else value


def req_str(obj: dict[str, Any], key: str, what: str) -> str:
    """``obj[key]``, which must be present and a string (null is refused too)."""
    value = _get(obj, key, what, required=True)
    if not isinstance(value, str):
        raise InvalidArgument(f"{what}: {key!r} must be a string, got {type(value).__name__}")
    return value


def opt_int(obj: dict[str, Any], key: str, what: str) -> int | None:
    """``obj[key]`` as an int64, or None when absent or null; a bool or float is refused."""
    value = _get(obj, key, what, required=False)
    if value is None:
        return None
    # bool is an int subclass in Python but never a valid timestamp or size.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what}: {key!r} must be an integer, got {type(value).__name__}")
    if not -(2**63) <= value < 2**63:
        raise InvalidArgument(f"{what}: {key!r} = {value} does not fit in int64")
    return value


def req_int(obj: dict[str, Any], key: str, what: str) -> int:
    """``obj[key]``, which must be present and an int64 (null is refused)."""
    _get(obj, key, what, required=True)
    value = opt_int(obj, key, what)
    if value is None:
        raise InvalidArgument(f"{what}: {key!r} must be an integer, got null")
    return value


def opt_bool(obj: dict[str, Any], key: str, what: str, default: bool) -> bool:
    """``obj[key]``, which must be a boolean; ``default`` when absent or null."""
    value = _get(obj, key, what, required=False)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidArgument(f"{what}: {key!r} must be a boolean, got {type(value).__name__}")
    return value


def metadata(obj: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """User metadata: any JSON object; absent or null means ``{}`` (§5.4.2)."""
    return opt_object(obj, key, what) or {}


def opt_object(obj: dict[str, Any], key: str, what: str) -> dict[str, Any] | None:
    """``obj[key]``, which must be a JSON object; None when absent or null."""
    value = _get(obj, key, what, required=False)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{what}: {key!r} must be a JSON object, got {type(value).__name__}")
    return value


def opt_list(obj: dict[str, Any], key: str, what: str) -> list[Any]:
    """``obj[key]``, which must be a JSON array; ``[]`` when absent or null."""
    value = _get(obj, key, what, required=False)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"{what}: {key!r} must be a JSON array, got {type(value).__name__}")
    return value
