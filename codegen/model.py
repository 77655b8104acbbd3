"""Phase 2 output: the ontology as a typed, language-neutral model.

The resolver turns the YAML into these values; renderers (``python.py`` for the package
modules and strategies, the reference docs template) print from them. Nothing here is
Python source: a field's type is a tree of ``ScalarType | EnumType | StructType | ListType``
and its value rules are one ``mosaico.ontology.constraints.Constraints`` value, the same
class the generated code carries and the column checks apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from mosaico.ontology.constraints import Constraints, Rule
from mosaico_codegen.typemap import Scalar


@attrs.frozen
class ScalarType:
    """A field type that is one YAML scalar (``float64``, ``string``; see ``typemap.SCALARS``)."""

    scalar: Scalar


@attrs.frozen
class EnumType:
    """A field of an enum: stored as the enum's scalar, limited to its values."""

    name: str
    scalar: Scalar


@attrs.frozen
class StructType:
    """A field holding another type's complete struct."""

    name: str


@attrs.frozen
class ListType:
    """A list field type (``float64[]``, ``float64[9]``); ``inner`` may be a list again."""

    inner: FieldType
    size: int | None  # None: variable list; N: fixed-size list of N elements


FieldType = ScalarType | EnumType | StructType | ListType


def leaf(t: FieldType) -> ScalarType | EnumType | StructType:
    """The element type under every list level."""
    while isinstance(t, ListType):
        t = t.inner
    return t


def depth(t: FieldType) -> int:
    """How many list levels wrap the element type."""
    n = 0
    while isinstance(t, ListType):
        t, n = t.inner, n + 1
    return n


@attrs.frozen
class Default:
    """A YAML default: ``value`` (a scalar), or ``[]`` for a list (``empty_list``)."""

    value: Any = None
    empty_list: bool = False


@attrs.define
class Field:
    """One resolved field of a type, mixin fields included, with its value rules.

    ``nullable`` fields may be None; ``wire_nullable`` ones are required in Python but may
    be null in Arrow (the reference layout of vector components). ``default`` is None when
    the YAML gives none: a nullable field then defaults to None, a required one must be
    passed.
    """

    name: str
    type: FieldType
    description: str
    unit: str | None
    nullable: bool  # may be None in Python (and null in Arrow)
    wire_nullable: bool  # null allowed in Arrow, though Python requires a value
    default: Default | None
    constraints: Constraints

    @property
    def arrow_nullable(self) -> bool:
        """Whether the Arrow field allows nulls (``nullable`` or ``wire_nullable``)."""
        return self.nullable or self.wire_nullable

    @property
    def struct(self) -> str | None:
        """The type whose objects the field holds (a struct, or a list of structs)."""
        el = leaf(self.type)
        return el.name if isinstance(el, StructType) else None

    @property
    def enum(self) -> str | None:
        """The enum whose members the field holds (an enum, or lists of one)."""
        el = leaf(self.type)
        return el.name if isinstance(el, EnumType) else None

    @property
    def is_list(self) -> bool:
        """Whether the field's outer type is a list (of any depth)."""
        return isinstance(self.type, ListType)


@attrs.define
class Type:
    """One resolved ontology type: a generated class.

    ``tag`` is the stored topic tag (the class name unless the YAML sets one),
    ``serialization`` the storage hint (``default``, ``ragged``, ``image``), ``fields``
    mixin fields first, then its own, and ``rules`` the cross-field rules.
    """

    name: str
    tag: str
    module: str  # fully qualified module of the generated class
    description: str
    serialization: str
    fields: list[Field]
    rules: list[Rule]
    slerp: tuple[str, ...] = ()  # quaternion components (x, y, z, w), if declared

    @property
    def deps(self) -> list[str]:
        """Types nested by this type, in field order."""
        return _unique(f.struct for f in self.fields)

    @property
    def enum_deps(self) -> list[str]:
        """Enums of this type's fields (lists of them included), in field order."""
        return _unique(f.enum for f in self.fields)

    @property
    def snake_name(self) -> str:
        """The name of the type's strategy function (``GPSStatus`` -> ``gps_status``)."""
        return snake(self.name)


@attrs.define
class EnumMember:
    """One member of an enum: its Python name and stored value."""

    name: str
    value: str | int


@attrs.define
class Enum:
    """One resolved enum: a generated ``str, enum.Enum`` or ``enum.IntEnum`` class."""

    name: str
    module: str
    description: str
    scalar: Scalar  # storage
    members: list[EnumMember]

    @property
    def values(self) -> list[str | int]:
        """The stored values of the members, in declaration order."""
        return [m.value for m in self.members]


@attrs.define
class Import:
    """``from module import names`` in a generated module (types nested from another file)."""

    module: str  # fully qualified
    names: list[str]


@attrs.define
class Module:
    """One generated module: the enums and types of one YAML file, types ordered so that
    each comes after the same-module types it nests."""

    name: str  # file stem
    source: str  # YAML file name (module docstring, reference docs)
    description: str
    enums: list[Enum]
    types: list[Type]
    imports: list[Import]


def _unique(names: Iterable[str | None]) -> list[str]:
    """The names that are set, each once, in order."""
    return list(dict.fromkeys(n for n in names if n))


def snake(name: str) -> str:
    """``CamelCase`` -> ``camel_case`` (``GPSStatus`` -> ``gps_status``)."""
    out = []
    for i, ch in enumerate(name):
        if (
            ch.isupper()
            and i
            and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower()))
        ):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
