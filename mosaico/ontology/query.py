"""Typed query expressions over the fields of generated types: `IMU.Q.acceleration.x.gt(4.0)`.

Every generated class has a `Q` proxy walking its Arrow layout (the envelope `timestamp_ns`
included). Leaves offer the operators of the Mosaico query language for their kind; a wrong
operator, a bad operand or an unknown field fails when the expression is built, naming the
type and the path. Lists need a selector first: `.any()` (`[?]`), `.all()` (`[!]`) or `[i]`.
"""

from __future__ import annotations

from typing import Any

import attrs
import pyarrow as pa

from mosaico.errors import InputError
from mosaico.ontology.schema import TIMESTAMP_FIELD

NUMERIC_OPS = ("eq", "neq", "lt", "leq", "gt", "geq", "between", "outside", "in_")
STRING_OPS = ("eq", "lt", "leq", "gt", "geq", "between", "outside", "in_", "match")
BOOL_OPS = ("eq",)


class QueryBuildError(InputError):
    """An expression that the query language cannot express (wrong operator or operand)."""


class UnknownFieldError(QueryBuildError, AttributeError):
    """A path naming a field the type does not have."""


@attrs.frozen
class Expression:
    """One condition on one leaf: `"<Tag>.<path>": {"<$op>": operand}`."""

    tag: str
    path: str
    op: str
    operand: Any

    @property
    def key(self) -> str:
        return f"{self.tag}.{self.path}"

    def to_json(self) -> dict[str, Any]:
        return {self.key: {self.op: self.operand}}


def _kind(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        return "struct"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    return "opaque"  # binary, maps: not queryable


class FieldPath:
    """A position in a type's layout; attribute access walks structs."""

    __slots__ = ("_tag", "_type_name", "_path", "_arrow", "_selected")

    def __init__(
        self, tag: str, type_name: str, path: str, arrow: pa.DataType, selected: bool = False
    ) -> None:
        self._tag = tag
        self._type_name = type_name
        self._path = path
        self._arrow = arrow
        self._selected = selected  # reached through a list selector

    def __repr__(self) -> str:
        return f"<query path {self._where} ({self._arrow})>"

    @property
    def _where(self) -> str:
        return f"{self._type_name}.{self._path}" if self._path else self._type_name

    def field(self, name: str) -> FieldPath:
        """The child `name` of a struct (also for names that shadow a method here)."""
        if _kind(self._arrow) == "list":
            raise QueryBuildError(
                f"{self._where} is a list: select elements with .any(), .all() or [i] first"
            )
        if _kind(self._arrow) != "struct":
            raise UnknownFieldError(
                f"{self._where} is a {self._arrow} leaf and has no field {name!r}"
            )
        index = self._arrow.get_field_index(name)
        if index < 0:
            names = ", ".join(f.name for f in self._arrow)
            raise UnknownFieldError(f"{self._where} has no field {name!r} (fields: {names})")
        path = f"{self._path}.{name}" if self._path else name
        return FieldPath(
            self._tag, self._type_name, path, self._arrow.field(index).type, self._selected
        )

    def __getattr__(self, name: str) -> FieldPath:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.field(name)

    # --- list selectors ------------------------------------------------------------------------

    def _element(self, selector: str) -> FieldPath:
        if _kind(self._arrow) != "list":
            raise QueryBuildError(f"{self._where} is not a list; {selector} selects list elements")
        child = self._arrow.value_type
        if _kind(child) == "list":
            raise QueryBuildError(f"{self._where} is a list of lists, which queries cannot address")
        return FieldPath(self._tag, self._type_name, f"{self._path}{selector}", child, True)

    def any(self) -> FieldPath:
        """Condition holds for at least one element (`[?]`)."""
        return self._element("[?]")

    def all(self) -> FieldPath:
        """Condition holds for every element (`[!]`)."""
        return self._element("[!]")

    def __getitem__(self, index: int) -> FieldPath:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise QueryBuildError(
                f"{self._where}: a list index is a non-negative integer, got {index!r}"
            )
        return self._element(f"[{index}]")

    # --- operators -------------------------------------------------------------------------------

    def _leaf(self, op: str) -> str:
        kind = _kind(self._arrow)
        allowed = {"numeric": NUMERIC_OPS, "string": STRING_OPS, "bool": BOOL_OPS}.get(kind, ())
        if kind == "list":
            raise QueryBuildError(
                f"{self._where} is a list: select elements with .any(), .all() or [i] first"
            )
        if kind == "struct":
            raise QueryBuildError(f"{self._where} is a struct: compare one of its fields")
        if op not in allowed:
            hint = f" (use {', '.join(allowed)})" if allowed else " (it is not queryable)"
            raise QueryBuildError(
                f"{self._where}: operator {op!r} is not available for a {self._arrow} leaf{hint}"
            )
        return kind

    def _operand(self, kind: str, value: Any) -> Any:
        ok = {
            "numeric": isinstance(value, (int, float)) and not isinstance(value, bool),
            "string": isinstance(value, str),
            "bool": isinstance(value, bool),
        }[kind]
        if not ok:
            raise QueryBuildError(
                f"{self._where}: {value!r} cannot be compared with a {self._arrow} leaf"
            )
        return value

    def _expr(self, op: str, operand: Any) -> Expression:
        return Expression(self._tag, self._path, op, operand)

    def _compare(self, op: str, value: Any) -> Expression:
        kind = self._leaf(op)
        return self._expr(f"${op}", self._operand(kind, value))

    def eq(self, value: Any) -> Expression:
        return self._compare("eq", value)

    def neq(self, value: Any) -> Expression:
        return self._compare("neq", value)

    def lt(self, value: Any) -> Expression:
        return self._compare("lt", value)

    def leq(self, value: Any) -> Expression:
        return self._compare("leq", value)

    def gt(self, value: Any) -> Expression:
        return self._compare("gt", value)

    def geq(self, value: Any) -> Expression:
        return self._compare("geq", value)

    def _range(self, op: str, low: Any, high: Any) -> Expression:
        kind = self._leaf(op)
        low, high = self._operand(kind, low), self._operand(kind, high)
        if low > high:
            raise QueryBuildError(f"{self._where}: {op} needs low <= high, got [{low!r}, {high!r}]")
        return self._expr(f"${op}", [low, high])

    def between(self, low: Any, high: Any) -> Expression:
        """low <= value <= high."""
        return self._range("between", low, high)

    def outside(self, low: Any, high: Any) -> Expression:
        """value < low or value > high."""
        return self._range("outside", low, high)

    def in_(self, *values: Any) -> Expression:
        kind = self._leaf("in_")
        if not values:
            raise QueryBuildError(f"{self._where}: in_ needs at least one value")
        checked = [self._operand(kind, v) for v in values]
        if len({type(v) for v in checked}) > 1:
            raise QueryBuildError(
                f"{self._where}: in_ values must all have one type, got {checked!r}"
            )
        return self._expr("$in", checked)

    def match(self, pattern: str) -> Expression:
        """Glob match of the whole string: `*`, `?`, `[a-z]`, `#` (one digit)."""
        kind = self._leaf("match")
        return self._expr("$match", self._operand(kind, pattern))


class QueryProxy:
    """Class-level descriptor: `Type.Q` is the root FieldPath of that type's topic layout."""

    def __get__(self, obj: object, owner: type) -> FieldPath:
        root = owner.__dict__.get("_query_root")
        if root is None:
            schema = pa.struct([TIMESTAMP_FIELD, *owner.ARROW_TYPE])  # type: ignore[attr-defined]
            root = FieldPath(owner.TAG, owner.__name__, "", schema)  # type: ignore[attr-defined]
            type.__setattr__(owner, "_query_root", root)
        return root
