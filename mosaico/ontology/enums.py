"""Enum fields: the stored value (a string or an integer) <-> the generated Enum member.

Arrow holds an enum field as its scalar; objects hold the members. The constructor (and
assignment) converts a plain value through `member`; decoding converts whole columns
through `members`. A value that no member has is left as it is, for ``validate()`` or the
column checks to report (with validation off it is kept). The members are ``str`` and
``int`` subclasses, so they compare, hash and convert to Arrow like their values.

>>> import enum
>>> class Gear(str, enum.Enum):
...     PARK = "park"
...     DRIVE = "drive"
>>> member(Gear, "drive"), member(Gear, ["park", "reverse"])
(<Gear.DRIVE: 'drive'>, [<Gear.PARK: 'park'>, 'reverse'])
>>> members(Gear, ["park", None, "drive"], depth=0)
[<Gear.PARK: 'park'>, None, <Gear.DRIVE: 'drive'>]
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, cast

from mosaico.ontology import kinds

__all__ = ["member", "members"]

_LOOKUPS: dict[type[enum.Enum], tuple[dict[Any, Any], tuple[type, ...]]] = {}


def _lookup(cls: type[enum.Enum]) -> tuple[dict[Any, Any], tuple[type, ...]]:
    """Stored value -> member (None -> None, a null row), and the kinds of plain values,
    built once per enum."""
    found = _LOOKUPS.get(cls)
    if found is None:
        table: dict[Any, Any] = {m.value: m for m in cls}
        table[None] = None
        found = _LOOKUPS[cls] = (table, kinds.STR if issubclass(cls, str) else kinds.INT)
    return found


def member(cls: type[enum.Enum], value: Any) -> Any:
    """The member of enum `cls` for a plain value (lists of them at any depth, element-wise):
    what generated classes convert enum fields with, on construction and assignment."""
    table, plain = _LOOKUPS.get(cls) or _lookup(cls)
    if isinstance(value, plain):
        return table.get(value, value)
    if isinstance(value, kinds.LIST):
        return [member(cls, v) for v in cast(Iterable[Any], value)]
    return value  # None, or a wrong kind that validate() reports


def members(cls: type[enum.Enum], values: list[Any], depth: int) -> list[Any]:
    """A decoded column of enum `cls` (`depth` list levels deep) with members for values."""
    if depth:
        return [v if v is None else members(cls, v, depth - 1) for v in values]
    table = _lookup(cls)[0]
    try:
        return list(map(table.__getitem__, values))
    except KeyError:  # a value no member has (decoded with validation off): keep it
        return [table.get(v, v) for v in values]
