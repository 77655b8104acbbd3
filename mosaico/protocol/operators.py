"""The operators of the query language (spec §8.5) in one table, and the operand rules.

For every operator the table says the JSON shape of its operand, the leaf kinds the server
evaluates it on, the leaf kinds the typed builders (``Type.Q``) offer it for (narrower: the
reference client's choice, e.g. no ``$neq`` on strings) and, for the scalar comparisons, the
Python comparison that defines it. The client builders, the ``Type.Q`` proxies and the
server's query plan all check operands here, so each rule and its message exist once.

A violation raises ``InvalidArgument`` whose message starts with the key the user wrote;
the client layers re-raise it as their ``QueryBuildError``. ``shown`` is how a message names
the operator: ``$in`` on the wire, ``in_`` for the Python builders.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from enum import Enum
from typing import Any

import attrs

from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.glob import MAX_PATTERN_CHARS, GlobError, python_glob

NUMBER, STRING, BOOL, TEMPORAL = "number", "string", "bool", "temporal"
"""Leaf kinds: JSON number, string and boolean, and date/time leaves (ISO text or ns)."""


class Shape(str, Enum):
    """The JSON shape of an operand."""

    SCALAR = "scalar"  # a number, string or boolean
    PAIR = "pair"  # [low, high], two numbers or two strings, low <= high
    SET = "set"  # a non-empty array of scalars of one JSON type
    PATTERN = "pattern"  # a glob string (§8.6)
    NULL = "null"


@attrs.frozen
class Operator:
    """One row of spec §8.5."""

    name: str  # on the wire: "$eq"
    method: str  # the builder keyword and the Type.Q method: "eq", "in_"
    shape: Shape
    leaves: frozenset[str]  # leaf kinds the server evaluates it on
    typed: frozenset[str]  # leaf kinds Type.Q offers it for
    compare: Callable[[Any, Any], bool] | None = None  # scalar ones: compare(value, operand)

    @property
    def metadata_only(self) -> bool:
        """``$ex`` / ``$nex``: about a user-metadata path existing, not about a value."""
        return self.shape is Shape.NULL


_ALL = frozenset({NUMBER, STRING, BOOL, TEMPORAL})
_ORDERED = frozenset({NUMBER, STRING, TEMPORAL})
_TYPED = frozenset({NUMBER, STRING})
_NONE: frozenset[str] = frozenset()

OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("$eq", "eq", Shape.SCALAR, _ALL, frozenset({NUMBER, STRING, BOOL}), operator.eq),
        Operator("$neq", "neq", Shape.SCALAR, _ALL, frozenset({NUMBER}), operator.ne),
        Operator("$lt", "lt", Shape.SCALAR, _ORDERED, _TYPED, operator.lt),
        Operator("$leq", "leq", Shape.SCALAR, _ORDERED, _TYPED, operator.le),
        Operator("$gt", "gt", Shape.SCALAR, _ORDERED, _TYPED, operator.gt),
        Operator("$geq", "geq", Shape.SCALAR, _ORDERED, _TYPED, operator.ge),
        Operator("$between", "between", Shape.PAIR, _ORDERED, _TYPED),
        Operator("$outside", "outside", Shape.PAIR, _ORDERED, _TYPED),
        Operator("$in", "in_", Shape.SET, _ALL, _TYPED),
        Operator("$match", "match", Shape.PATTERN, frozenset({STRING}), frozenset({STRING})),
        Operator("$ex", "ex", Shape.NULL, _NONE, _NONE),
        Operator("$nex", "nex", Shape.NULL, _NONE, _NONE),
    )
}
"""The operator table by wire name (``"$eq"``), in the order of spec §8.5."""
BY_METHOD: dict[str, Operator] = {op.method: op for op in OPERATORS.values()}
"""The same operators by builder keyword and ``Type.Q`` method (``"in_"`` -> ``$in``)."""


def lookup(key: str, name: Any) -> Operator:
    """The operator called ``name`` (``"$eq"``); unknown ones are rejected naming the key."""
    found = OPERATORS.get(name) if isinstance(name, str) else None
    if found is None:
        raise InvalidArgument(
            f"{key}: unknown operator {name!r} (known: {', '.join(sorted(OPERATORS))})"
        )
    return found


def typed_methods(kind: str) -> list[str]:
    """The Type.Q methods offered for a leaf of ``kind``, in table order."""
    return [op.method for op in OPERATORS.values() if kind in op.typed]


def json_kind(value: Any) -> str | None:
    """JSON kind of a scalar: number, string, bool; None for null, arrays and objects."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return None


def operand_kind(op: Operator, operand: Any) -> str | None:
    """JSON kind of a checked operand (of its elements for pairs and sets)."""
    if op.shape is Shape.NULL:
        return None
    if op.shape in (Shape.PAIR, Shape.SET):
        return json_kind(operand[0])
    return json_kind(operand)


def applies_to(key: str, op: Operator, kind: str, leaf: object) -> None:
    """Reject ``op`` on a leaf of ``kind`` (``leaf`` names the leaf's type)."""
    if kind not in op.leaves:
        kinds = ", ".join(k for k in (NUMBER, STRING, BOOL, TEMPORAL) if k in op.leaves)
        raise InvalidArgument(f"{key}: {op.name} applies to {kinds} leaves, not {leaf}")


def cannot_compare(key: str, what: str, operand: Any) -> InvalidArgument:
    """An operand of the wrong kind for its leaf or catalog value (``what``: "double leaf")."""
    return InvalidArgument(f"{key}: a {what} cannot be compared with {operand!r}")


# --- operand shapes ---------------------------------------------------------------------------


def _scalar(key: str, shown: str, value: Any, strict: bool) -> None:
    if json_kind(value) is None:
        raise InvalidArgument(
            f"{key}: {shown} takes a number, string or boolean; {value!r} is not a number, "
            "string or boolean"
        )


def _pair(key: str, shown: str, value: Any, strict: bool) -> None:
    if not isinstance(value, list) or len(value) != 2:
        raise InvalidArgument(f"{key}: {shown} takes a [low, high] pair, got {value!r}")
    low, high = value
    kinds = {json_kind(low), json_kind(high)}
    if len(kinds) != 1 or kinds & {None, BOOL}:
        raise InvalidArgument(
            f"{key}: {shown} bounds must be two numbers or two strings, got {value!r}"
        )
    if low > high:
        raise InvalidArgument(
            f"{key}: {shown} range is inverted ({shown} needs low <= high, "
            f"got [{low!r}, {high!r}])"
        )


def _set(key: str, shown: str, values: Any, strict: bool) -> None:
    if not isinstance(values, list):
        raise InvalidArgument(f"{key}: {shown} takes an array of values, got {values!r}")
    if not values:
        raise InvalidArgument(f"{key}: {shown} needs at least one value")
    if strict and len({type(v) for v in values}) > 1:
        raise InvalidArgument(f"{key}: {shown} values must all have one type, got {values!r}")
    kinds = {json_kind(v) for v in values}
    if None in kinds or len(kinds) != 1:
        raise InvalidArgument(
            f"{key}: {shown} values must be scalars of one JSON type, got {values!r}"
        )


def _pattern(key: str, shown: str, value: Any, strict: bool) -> None:
    if not isinstance(value, str):
        raise InvalidArgument(f"{key}: {shown} takes a string pattern, got {value!r}")
    if len(value) > MAX_PATTERN_CHARS:
        raise InvalidArgument(
            f"{key}: {shown} pattern is {len(value)} characters, more than {MAX_PATTERN_CHARS}"
        )
    try:
        python_glob(value)
    except GlobError as exc:
        raise InvalidArgument(f"{key}: bad {shown} pattern {value!r}: {exc}") from None


def _null(key: str, shown: str, value: Any, strict: bool) -> None:
    if value is not None:
        raise InvalidArgument(f"{key}: {shown} takes null, got {value!r}")


_SHAPE_CHECKS: dict[Shape, Callable[[str, str, Any, bool], None]] = {
    Shape.SCALAR: _scalar,
    Shape.PAIR: _pair,
    Shape.SET: _set,
    Shape.PATTERN: _pattern,
    Shape.NULL: _null,
}


def check_operand(
    key: str, op: Operator, operand: Any, *, shown: str | None = None, strict: bool = False
) -> None:
    """Reject an operand whose JSON shape ``op`` does not take.

    ``strict`` (the typed builders) also rejects sets mixing Python types, such as ints
    with floats, as the reference client does; the server accepts any numbers together.
    """
    _SHAPE_CHECKS[op.shape](key, shown or op.name, operand, strict)
