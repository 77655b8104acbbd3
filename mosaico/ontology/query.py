"""Typed query expressions over the fields of generated types: `IMU.Q.acceleration.x.gt(4.0)`.

Every generated class has a `Q` proxy walking its Arrow layout (the envelope `timestamp_ns`
included). Leaves offer the operators that the protocol's operator table
(``mosaico.protocol.operators``) gives the typed builders for their kind; a wrong operator, a
bad operand or an unknown field fails when the expression is built, naming the type and the
path. Lists need a selector first: `.any()` (`[?]`), `.all()` (`[!]`) or `[i]`.

A topic without a generated type is queried through `mosaico.query.Q`, over its schema when
one is at hand, or over an unknown layout (any path; the server checks it against the
topic's stored schema).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pyarrow as pa

from mosaico.errors import InputError
from mosaico.ontology.schema import TIMESTAMP_FIELD
from mosaico.protocol import operators as ops
from mosaico.protocol import query as wire
from mosaico.protocol.errors import InvalidArgument


class QueryBuildError(InputError):
    """An expression or query that the query language cannot express (wrong operator or
    operand), raised where it is built."""

    @classmethod
    @contextmanager
    def raised_for(cls) -> Iterator[None]:
        """Re-raise the protocol's ``InvalidArgument`` (a broken query rule) as this error."""
        try:
            yield
        except InvalidArgument as err:
            raise cls(err.detail) from err


class UnknownFieldError(QueryBuildError, AttributeError):
    """A path naming a field the type does not have."""


@attrs.frozen
class Expression:
    """One condition on one leaf: `"<Tag>.<path>": {"<$op>": operand}`.

    Built by the `FieldPath` operators, already checked; `QueryOntologyCatalog` takes it.

    >>> IMU.Q.acceleration.x.gt(4.0)
    Expression(tag='IMU', path='acceleration.x', op='$gt', operand=4.0)
    """

    tag: str
    path: str
    op: str
    operand: Any

    @property
    def key(self) -> str:
        """The filter key of the query's ontology section: `"<Tag>.<path>"`."""
        return f"{self.tag}.{self.path}"

    def to_json(self) -> dict[str, Any]:
        """The condition as the query document holds it: `{key: {op: operand}}`."""
        return {self.key: {self.op: self.operand}}


UNKNOWN = "unknown"
"""The kind of a position in a layout nobody told the client (a schema-less `Q(tag)`)."""


def _kind(t: pa.DataType | None) -> str:
    """The operator table's leaf kind of ``t``, or "struct", "list", "opaque" or "unknown"."""
    if t is None:
        return UNKNOWN
    if pa.types.is_struct(t):
        return "struct"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "list"
    if pa.types.is_boolean(t):
        return ops.BOOL
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return ops.NUMBER
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return ops.STRING
    return "opaque"  # binary, maps, date/time: not offered by the typed builders


def _operator(method: str, doc: str, arity: int | None = 1) -> Callable[..., Expression]:
    """A FieldPath method building ``method``'s expression; ``arity`` None: any number."""

    def build(self: FieldPath, *values: Any) -> Expression:
        if arity is not None and len(values) != arity:
            raise TypeError(f"{method}() takes {arity} value(s), got {len(values)}")
        return self._expr(method, *values)

    build.__name__ = build.__qualname__ = method
    build.__doc__ = doc
    return build


class FieldPath:
    """A position in a type's layout; attribute access walks structs.

    Leaves build `Expression`s with the operators the protocol's operator table gives
    their kind (`mosaico.protocol.operators.typed_methods`: numbers `eq` ... `in_`, strings
    also `match`, booleans only `eq`). Wrong paths and operators raise `UnknownFieldError`
    / `QueryBuildError` at once, naming the path. Over an unknown layout (``arrow`` None)
    every field and selector is accepted and the operand's own kind picks the operators.

    >>> IMU.Q.header.frame_id.match("cam*")
    Expression(tag='IMU', path='header.frame_id', op='$match', operand='cam*')
    >>> IMU.Q.acceleration.covariance.any().gt(1.0).key
    'IMU.acceleration.covariance[?]'
    """

    __slots__ = ("_tag", "_type_name", "_path", "_arrow", "_selected")

    def __init__(
        self, tag: str, type_name: str, path: str, arrow: pa.DataType | None,
        selected: bool = False,
    ) -> None:  # fmt: skip
        self._tag = tag
        self._type_name = type_name
        self._path = path
        self._arrow = arrow
        self._selected = selected  # reached through a list selector

    def __repr__(self) -> str:
        layout = "unknown layout" if self._arrow is None else self._arrow
        return f"<query path {self._where} ({layout})>"

    @property
    def _where(self) -> str:
        return f"{self._type_name}.{self._path}" if self._path else self._type_name

    def field(self, name: str) -> FieldPath:
        """The child `name` of a struct (also for names that shadow a method here).

        Raises:
            UnknownFieldError: this is a leaf, or the struct has no field `name`.
            QueryBuildError: this is a list (select elements first).
        """
        if self._arrow is None:
            return self._child(name, None)
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
        return self._child(name, self._arrow.field(index).type)

    def _child(self, name: str, arrow: pa.DataType | None) -> FieldPath:
        if not name or any(c in name for c in ".[]"):
            raise QueryBuildError(f"{self._where}: {name!r} is not a field name")
        path = f"{self._path}.{name}" if self._path else name
        return FieldPath(self._tag, self._type_name, path, arrow, self._selected)

    def at(self, path: str) -> FieldPath:
        """The position at a dotted path with list selectors (``"pose.covariance[?]"``), as
        the keys of a query write it.

        >>> IMU.Q.at("acceleration.x").gt(4.0).key
        'IMU.acceleration.x'

        Raises:
            UnknownFieldError / QueryBuildError: a malformed path, or the first step that
                does not fit the layout.
        """
        with QueryBuildError.raised_for():
            _, steps = wire.parse_ontology_key(f"{self._tag}.{path}")
        here = self
        for step in steps:
            if isinstance(step, str):
                here = here.field(step)
            elif step.kind == "index":
                here = here[step.index]
            else:
                here = here.any() if step.kind == "any" else here.all()
        return here

    def __getattr__(self, name: str) -> FieldPath:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.field(name)

    # --- list selectors ------------------------------------------------------------------------

    def _element(self, selector: str) -> FieldPath:
        if self._arrow is None:
            return FieldPath(self._tag, self._type_name, f"{self._path}{selector}", None, True)
        if _kind(self._arrow) != "list":
            raise QueryBuildError(f"{self._where} is not a list; {selector} selects list elements")
        child = self._arrow.value_type
        if _kind(child) == "list":
            raise QueryBuildError(f"{self._where} is a list of lists, which queries cannot address")
        return FieldPath(self._tag, self._type_name, f"{self._path}{selector}", child, True)

    def any(self) -> FieldPath:
        """Condition holds for at least one element (`[?]`).

        Raises:
            QueryBuildError: this is not a list, or a list of lists.
        """
        return self._element("[?]")

    def all(self) -> FieldPath:
        """Condition holds for every element (`[!]`).

        Raises:
            QueryBuildError: this is not a list, or a list of lists.
        """
        return self._element("[!]")

    def __getitem__(self, index: int) -> FieldPath:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise QueryBuildError(
                f"{self._where}: a list index is a non-negative integer, got {index!r}"
            )
        return self._element(f"[{index}]")

    # --- operators -------------------------------------------------------------------------------

    def _leaf(self, method: str) -> ops.Operator:
        """The operator behind ``method``, if the typed builders offer it for this leaf."""
        kind = _kind(self._arrow)
        if kind == "list":
            raise QueryBuildError(
                f"{self._where} is a list: select elements with .any(), .all() or [i] first"
            )
        if kind == "struct":
            raise QueryBuildError(f"{self._where} is a struct: compare one of its fields")
        op = ops.BY_METHOD[method]
        if kind == UNKNOWN:
            if not self._path:
                raise QueryBuildError(f"{self._where}: compare one of its fields, not the topic")
            return op  # the operands say the kind
        if kind not in op.typed:
            allowed = ops.typed_methods(kind)
            hint = f" (use {', '.join(allowed)})" if allowed else " (it is not queryable)"
            raise QueryBuildError(
                f"{self._where}: operator {method!r} is not available for a {self._arrow} "
                f"leaf{hint}"
            )
        return op

    def _operands(self, op: ops.Operator, values: tuple[Any, ...]) -> None:
        kind = _kind(self._arrow)
        if kind == UNKNOWN:
            self._untyped_operands(op, values)
            return
        for value in values:
            if ops.json_kind(value) != kind:
                raise QueryBuildError(
                    f"{self._where}: {value!r} cannot be compared with a {self._arrow} leaf"
                )

    def _untyped_operands(self, op: ops.Operator, values: tuple[Any, ...]) -> None:
        """Over an unknown layout the first operand's kind must be one ``op`` takes, and
        the others of that kind."""
        kinds = [ops.json_kind(v) for v in values]
        if kinds and kinds[0] not in op.typed:
            takes = " or ".join(k for k in (ops.NUMBER, ops.STRING, ops.BOOL) if k in op.typed)
            raise QueryBuildError(
                f"{self._where}: {op.method} takes {takes} operands, got {values[0]!r}"
            )
        if len(set(kinds)) > 1:
            raise QueryBuildError(
                f"{self._where}: {op.method} values must all be {kinds[0]}s, got {list(values)!r}"
            )

    def _expr(self, method: str, *values: Any) -> Expression:
        """The expression of ``method`` over ``values`` (one scalar, a pair or a set)."""
        op = self._leaf(method)
        self._operands(op, values)
        operand = values[0] if op.shape in (ops.Shape.SCALAR, ops.Shape.PATTERN) else list(values)
        with QueryBuildError.raised_for():
            ops.check_operand(self._where, op, operand, shown=method, strict=True)
        return Expression(self._tag, self._path, op.name, operand)

    eq = _operator("eq", "value == operand")
    neq = _operator("neq", "value != operand")
    lt = _operator("lt", "value < operand")
    leq = _operator("leq", "value <= operand")
    gt = _operator("gt", "value > operand")
    geq = _operator("geq", "value >= operand")
    between = _operator("between", "low <= value <= high", arity=2)
    outside = _operator("outside", "value < low or value > high", arity=2)
    in_ = _operator("in_", "value equals one of the values", arity=None)
    match = _operator("match", "Glob match of the whole string: `*`, `?`, `[a-z]`, `#` (a digit).")


class QueryProxy:
    """Class-level descriptor: `Type.Q` is the root FieldPath of that type's topic layout."""

    def __get__(self, obj: object, owner: type) -> FieldPath:
        root = owner.__dict__.get("_query_root")
        if root is None:
            schema = pa.struct([TIMESTAMP_FIELD, *owner.ARROW_TYPE])  # type: ignore[attr-defined]
            root = FieldPath(owner.TAG, owner.__name__, "", schema)  # type: ignore[attr-defined]
            type.__setattr__(owner, "_query_root", root)
        return root
