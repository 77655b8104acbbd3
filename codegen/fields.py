"""Resolution of one field: its YAML mapping -> ``model.Field`` (type tree + constraints).

Each helper checks one aspect (name, type, bounds, allowed values, lengths, default) and
reports its problems against the field's key lines; a field whose type cannot be resolved
is dropped, any other problem drops only the offending key.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from mosaico.ontology.constraints import Constraints
from mosaico_codegen import model
from mosaico_codegen.context import Context, Decl, Site
from mosaico_codegen.loader import LDict, SourceFile
from mosaico_codegen.typemap import RESERVED_FIELD_NAMES, SCALARS, Scalar

FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
FIELD_TYPE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\]]*\])*)$")
FIELD_KEYS = {
    "type", "nullable", "wire_nullable", "default", "unit", "description",
    "min", "max", "allowed", "length", "min_length", "max_length",
}  # fmt: skip


def resolve_field(
    ctx: Context, type_name: str, name: str, spec: Any, src: SourceFile, line: int
) -> model.Field | None:
    """The field `name` of `type_name`, or None when it cannot be resolved (reported)."""
    where = f"{type_name}.{name}"
    if not _valid_name(ctx, src, line, where, name):
        return None
    mapping = _as_mapping(spec, line)
    if mapping is None:
        ctx.diag.error(src.display, line, where, "a field must be a mapping with at least 'type'")
        return None
    site = Site(ctx, src, mapping, where, line)
    ctx.check_keys(src, mapping, FIELD_KEYS, where, "field key")
    ctx.report_duplicates(src, mapping, where)
    ftype = _field_type(site)
    if ftype is None:
        return None
    given = "default" in mapping
    nullable = bool(mapping.get("nullable", False)) or (given and mapping["default"] is None)
    wire_nullable = bool(mapping.get("wire_nullable", False))
    constraints = _constraints(site, ftype, required=wire_nullable and not nullable)
    unit = mapping.get("unit")
    return model.Field(
        name=name,
        type=ftype,
        description=str(mapping.get("description", "")).strip(),
        unit=str(unit) if unit is not None else None,
        nullable=nullable,
        wire_nullable=wire_nullable,
        default=_default(site, ftype, constraints) if given else None,
        constraints=constraints,
    )


def _valid_name(ctx: Context, src: SourceFile, line: int, where: str, name: str) -> bool:
    if not FIELD_NAME.match(name):
        ctx.diag.error(
            src.display, line, where, f"invalid field name {name!r}: use lower_snake_case"
        )
        return False
    if keyword.iskeyword(name) or name in RESERVED_FIELD_NAMES:
        ctx.diag.error(src.display, line, where, f"field name {name!r} is a reserved word")
        return False
    return True


def _as_mapping(spec: Any, line: int) -> LDict | None:
    """A field's mapping; the short form ``name: type`` stands for ``{type: type}``."""
    if isinstance(spec, str):
        short = LDict({"type": spec})
        short.line, short.key_lines, short.duplicates = line, {}, []
        return short
    return spec if isinstance(spec, LDict) else None


# --- the type ------------------------------------------------------------------------------------


def _field_type(site: Site) -> model.FieldType | None:
    """Parse ``Base[...][...]`` and resolve the base name to a scalar, enum or type."""
    text = site.spec.get("type")
    if not isinstance(text, str):
        site.ctx.diag.error(site.src.display, site.line, site.where, "missing 'type'")
        return None
    m = FIELD_TYPE.match(text.replace(" ", ""))
    if not m:
        site.error("type", f"cannot parse type {text!r}")
        return None
    sizes = _list_sizes(site, m.group(2))
    if sizes is None:
        return None
    element = _element_type(site, m.group(1))
    if element is None:
        return None
    if isinstance(element, model.StructType) and len(sizes) > 1:
        site.error("type", "lists of lists of a type are not supported")
        return None
    ftype: model.FieldType = element
    for size in sizes:  # innermost first: float32[][3] is a list of 3-lists
        ftype = model.ListType(ftype, size)
    return ftype


def _list_sizes(site: Site, suffix: str) -> list[int | None] | None:
    sizes: list[int | None] = []
    for size in re.findall(r"\[([^\]]*)\]", suffix):
        if size == "":
            sizes.append(None)
        elif size.isdigit() and int(size) > 0:
            sizes.append(int(size))
        else:
            site.error("type", f"fixed-size list needs a positive integer size, got [{size}]")
            return None
    return sizes


def _element_type(
    site: Site, base: str
) -> model.ScalarType | model.EnumType | model.StructType | None:
    scalar = SCALARS.get(base)
    if scalar is not None:
        return model.ScalarType(scalar)
    decl = site.ctx.lookup(site.src, base, site.spec.line_of("type"), site.where, ("type", "enum"))
    if decl is None:
        return None
    if decl.kind == "enum":
        storage = decl.body.get("type", "string")
        return model.EnumType(decl.name, SCALARS.get(storage, SCALARS["string"]))
    return model.StructType(decl.name)


def _scalar_of(ftype: model.FieldType) -> Scalar | None:
    el = model.leaf(ftype)
    return None if isinstance(el, model.StructType) else el.scalar


# --- constraints -------------------------------------------------------------------------------


def _constraints(site: Site, ftype: model.FieldType, required: bool) -> Constraints:
    scalar = _scalar_of(ftype)
    low, high = _bounds(site, scalar)
    allowed = _allowed(site, scalar)
    el = model.leaf(ftype)
    if isinstance(el, model.EnumType):
        values = _enum_values(site.ctx.decls[el.name])
        allowed = values if allowed is None else [v for v in allowed if v in values]
    min_length, max_length = _lengths(site, ftype)
    return Constraints(
        required=required,
        low=low,
        high=high,
        allowed=tuple(allowed) if allowed is not None else None,
        min_length=min_length,
        max_length=max_length,
    )


def _enum_values(decl: Decl) -> list[Any]:
    values = decl.body.get("values")
    if isinstance(values, LDict):
        return [v for v in values.values() if isinstance(v, int)]
    if isinstance(values, list):
        return [v for v in values if isinstance(v, str)]
    return []


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds(site: Site, scalar: Scalar | None) -> tuple[Any, Any]:
    low, high = site.spec.get("min"), site.spec.get("max")
    for key, v in (("min", low), ("max", high)):
        if v is None:
            continue
        if scalar is None or not scalar.is_numeric:
            site.error(key, f"'{key}' applies only to numeric fields")
            return None, None
        if not _is_number(v):
            site.error(key, f"'{key}' must be a number, got {v!r}")
            return None, None
    if low is not None and high is not None and low > high:
        site.error("min", f"min ({low}) is greater than max ({high})")
        return None, None
    return low, high


def _allowed(site: Site, scalar: Scalar | None) -> list[Any] | None:
    allowed = site.spec.get("allowed")
    if allowed is None:
        return None
    if scalar is None or not isinstance(allowed, list) or not allowed:
        site.error("allowed", "'allowed' must be a non-empty list of scalar values")
        return None
    bad = [v for v in allowed if not scalar.accepts(v)]
    if bad:
        site.error("allowed", f"allowed value {bad[0]!r} is not a valid {scalar.yaml}")
        return None
    return list(allowed)


def _lengths(site: Site, ftype: model.FieldType) -> tuple[int | None, int | None]:
    keys = [k for k in ("length", "min_length", "max_length") if k in site.spec]
    if not keys:
        return None, None
    if not isinstance(ftype, model.ListType) or ftype.size is not None:
        site.error(keys[0], f"'{keys[0]}' applies only to variable lists")
        return None, None
    values = {k: site.spec[k] for k in keys}
    for k, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            site.error(k, f"'{k}' must be a non-negative integer")
            return None, None
    if "length" in values:
        return values["length"], values["length"]
    lo, hi = values.get("min_length"), values.get("max_length")
    if lo is not None and hi is not None and lo > hi:
        site.error("min_length", f"min_length ({lo}) is greater than max_length ({hi})")
        return None, None
    return lo, hi


# --- the default -------------------------------------------------------------------------------


def _default(site: Site, ftype: model.FieldType, rules: Constraints) -> model.Default | None:
    value = site.spec["default"]
    if value is None:
        return None
    problem = _default_problem(ftype, rules, value)
    if problem:
        site.error("default", f"bad default {value!r}{problem}")
        return None
    if isinstance(ftype, model.ListType):
        return model.Default(empty_list=True)
    return model.Default(value)


def _default_problem(ftype: model.FieldType, rules: Constraints, value: Any) -> str:
    if isinstance(ftype, model.ListType):
        return (
            ""
            if value == [] and isinstance(value, list)
            else ": a list field only takes [] or null"
        )
    if isinstance(ftype, model.StructType):
        return ": a nested type only takes null"
    scalar = ftype.scalar
    ok = scalar.accepts(value)
    if ok and rules.low is not None and value < rules.low:
        ok = False
    if ok and rules.high is not None and value > rules.high:
        ok = False
    if ok and rules.allowed is not None and value not in rules.allowed:
        ok = False
    return "" if ok else f" for a {scalar.yaml} field"
