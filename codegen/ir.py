"""Phase 2 output: a template-ready description of every module, type, field and enum.

Everything a template prints is decided here (through the type table); templates only loop
over these objects and branch on their flags.
"""

from __future__ import annotations

import attrs


@attrs.define
class ObjectCheck:
    """One per-object validation step of a field, rendered by kind in the class template."""

    kind: str  # instance | range | allowed | fixed_len | len_range | elem_range | elem_instance
    kinds: str = ""  # isinstance target expression
    expected: str = ""  # human text for the error
    low: str = "None"
    high: str = "None"
    constant: str = ""  # name of a module constant (allowed values)


@attrs.define
class FieldIR:
    name: str
    annotation: str
    description: str
    unit: str | None
    nullable: bool  # Python side: may be None
    arrow_nullable: bool
    has_default: bool
    default_expr: str  # Python expression of the default (when has_default)
    default_is_factory: bool
    arrow_type_expr: str
    metadata_expr: str  # dict literal, '{}' when none
    nested: str | None  # class whose objects the field holds (struct or list of struct)
    object_checks: list[ObjectCheck]
    column_checks: list[str]  # expressions building columnar checks
    strategy_expr: str
    allowed_constant: tuple[str, str] | None  # (constant name, frozenset expression)


@attrs.define
class RuleIR:
    kind: str  # at_least_one_of | ordered
    names: list[str]

    @property
    def column_expr(self) -> str:
        cls = {"at_least_one_of": "AtLeastOneOf", "ordered": "Ordered"}[self.kind]
        return f"columnar.{cls}({self.names!r})"


@attrs.define
class TypeIR:
    name: str
    tag: str
    module: str
    description: str
    serialization: str
    fields: list[FieldIR]
    rules: list[RuleIR]
    deps: list[str]  # type names nested by this type
    slerp: list[str] = attrs.Factory(list)  # quaternion components (x, y, z, w), if declared

    @property
    def strategy_name(self) -> str:
        return _snake(self.name)


@attrs.define
class EnumMemberIR:
    name: str
    value_expr: str


@attrs.define
class EnumIR:
    name: str
    module: str
    description: str
    storage: str  # scalar name
    base: str  # Python base class expression: "str, enum.Enum" | "enum.IntEnum"
    members: list[EnumMemberIR]
    values_expr: str  # list literal of the raw values


@attrs.define
class ImportIR:
    module: str  # fully qualified
    names: list[str]


@attrs.define
class ModuleIR:
    name: str  # file stem
    source: str  # YAML file name shown in the header
    description: str
    enums: list[EnumIR]
    types: list[TypeIR]
    imports: list[ImportIR]


def _snake(name: str) -> str:
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
