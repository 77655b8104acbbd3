"""Comparable plain values of objects from either client (shared by the interop tests)."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any


def normalize(value: Any) -> Any:
    """Plain values where both clients agree: enums by value, NaN comparable, tuples as lists,
    and a struct whose fields are all null as null (the reference reads it back that way)."""
    if isinstance(value, Enum):
        return normalize(value.value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        out = {k: normalize(v) for k, v in value.items()}
        return None if all(v is None for v in out.values()) else out
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def ours_as_dict(cls: type, obj: Any) -> Any:
    """One of our objects as the nested dict of its Arrow row."""
    return cls.to_arrow([obj]).to_pylist()[0]  # type: ignore[attr-defined]
