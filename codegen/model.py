"""Phase 2 output: the ontology as a typed, language-neutral model.

The resolver turns the YAML into these values; renderers (``python.py`` for the package
modules and strategies, the reference docs template) print from them. Nothing here is
Python source: a field's type is a tree of ``ScalarType | EnumType | StructType | ListType``
and its value rules are one ``mosaico.ontology.constraints.Constraints`` value, the same
class the generated code carries and the column checks apply.
"""

from __future__ import annotations

from typing import Any

import attrs

from mosaico.ontology.constraints import Constraints, Rule
from mosaico_codegen.typemap import Scalar


@attrs.frozen
class ScalarType:
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
        return self.nullable or self.wire_nullable

    @property
    def struct(self) -> str | None:
        """The type whose objects the field holds (a struct, or a list of structs)."""
        el = leaf(self.type)
        return el.name if isinstance(el, StructType) else None

    @property
    def is_list(self) -> bool:
        return isinstance(self.type, ListType)


@attrs.define
class Type:
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
        out: list[str] = []
        for f in self.fields:
            if f.struct and f.struct not in out:
                out.append(f.struct)
        return out

    @property
    def snake_name(self) -> str:
        return snake(self.name)


@attrs.define
class EnumMember:
    name: str
    value: str | int


@attrs.define
class Enum:
    name: str
    module: str
    description: str
    scalar: Scalar  # storage
    members: list[EnumMember]

    @property
    def values(self) -> list[str | int]:
        return [m.value for m in self.members]


@attrs.define
class Import:
    module: str  # fully qualified
    names: list[str]


@attrs.define
class Module:
    name: str  # file stem
    source: str  # YAML file name shown in the header
    description: str
    enums: list[Enum]
    types: list[Type]
    imports: list[Import]


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
