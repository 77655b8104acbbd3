"""Phase 2: check the loaded YAML and resolve it into the IR of `ir.py`.

Every problem is recorded in the Diagnostics (file:line, Type.field, message) and resolution
goes on, so one run reports all of them.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

import attrs

from mosaico_codegen import ir
from mosaico_codegen.diagnostics import Diagnostics
from mosaico_codegen.loader import LDict, LList, SourceFile
from mosaico_codegen.typemap import (
    ENUM_STORAGE,
    RESERVED_FIELD_NAMES,
    SCALARS,
    SERIALIZATION_FORMATS,
    Scalar,
    strategy_for,
)

TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
FIELD_TYPE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[^\]]*\])*)$")
FILE_KEYS = {"description", "imports", "enums", "mixins", "types"}
TYPE_KEYS = {"description", "tag", "serialization", "mixins", "fields", "rules", "slerp"}
MIXIN_KEYS = {"description", "fields"}
ENUM_KEYS = {"description", "type", "values"}
FIELD_KEYS = {
    "type", "nullable", "wire_nullable", "default", "unit", "description",
    "min", "max", "allowed", "length", "min_length", "max_length",
}  # fmt: skip
RULE_KINDS = ("at_least_one_of", "ordered")


@attrs.define
class Decl:
    kind: str  # type | enum | mixin
    name: str
    source: SourceFile
    line: int
    body: LDict


@attrs.define
class Context:
    diag: Diagnostics
    package: str
    std_package: str
    decls: dict[str, Decl] = attrs.field(factory=dict)
    visible: dict[str, set[str]] = attrs.field(factory=dict)  # file display -> visible files

    def module_of(self, source: SourceFile) -> str:
        return f"{self.std_package if source.std else self.package}.{source.path.stem}"


def resolve(
    sources: list[SourceFile],
    targets: list[SourceFile],
    visible: dict[str, set[str]],
    package: str,
    std_package: str,
    taken_tags: dict[str, str],
    diag: Diagnostics,
) -> list[ir.ModuleIR]:
    """Resolve every loaded file; return the modules of `targets` (sorted by name)."""
    ctx = Context(diag=diag, package=package, std_package=std_package, visible=visible)
    for src in sources:
        _collect(ctx, src)
    types = {d.name: _resolve_type(ctx, d) for d in ctx.decls.values() if d.kind == "type"}
    enums = {d.name: _resolve_enum(ctx, d) for d in ctx.decls.values() if d.kind == "enum"}
    _check_cycles(ctx, types)
    _check_tags(ctx, types, taken_tags)
    modules = []
    for src in sorted(targets, key=lambda s: s.path.stem):
        own = [d for d in ctx.decls.values() if d.source.display == src.display]
        modules.append(
            _module(
                ctx,
                src,
                [types[d.name] for d in own if d.kind == "type"],
                [enums[d.name] for d in own if d.kind == "enum"],
                types,
                enums,
            )
        )
    return modules


# --- declarations ------------------------------------------------------------------------------


def _collect(ctx: Context, src: SourceFile) -> None:
    data = src.data
    _check_keys(ctx, src, data, FILE_KEYS, "", "top-level key")
    _report_duplicates(ctx, src, data, "")
    if not src.path.stem.isidentifier() or keyword.iskeyword(src.path.stem):
        ctx.diag.error(src.display, 1, "", "file name must be a valid Python module name")
    for section, kind in (("types", "type"), ("enums", "enum"), ("mixins", "mixin")):
        block = data.get(section)
        if block is None:
            continue
        if not isinstance(block, LDict):
            ctx.diag.error(src.display, data.line_of(section), "", f"'{section}' must be a mapping")
            continue
        _report_duplicates(ctx, src, block, "", what=kind)
        for name, body in block.items():
            line = block.line_of(name)
            if not TYPE_NAME.match(name):
                ctx.diag.error(
                    src.display,
                    line,
                    name,
                    f"invalid {kind} name {name!r}: use CamelCase letters and digits",
                )
                continue
            if not isinstance(body, LDict):
                ctx.diag.error(src.display, line, name, f"a {kind} must be a mapping")
                continue
            held = ctx.decls.get(name)
            if held is not None:
                ctx.diag.error(
                    src.display, line, name,
                    f"name {name!r} is already declared in {held.source.display}:{held.line}",
                )  # fmt: skip
                continue
            ctx.decls[name] = Decl(kind, name, src, line, body)


def _check_keys(
    ctx: Context, src: SourceFile, body: LDict, allowed: set[str], where: str, what: str
) -> None:
    for key in body:
        if key not in allowed:
            ctx.diag.error(
                src.display, body.line_of(key), where,
                f"unknown {what} {key!r} (expected one of: {', '.join(sorted(allowed))})",
            )  # fmt: skip


def _report_duplicates(
    ctx: Context, src: SourceFile, body: LDict, where: str, what: str = "key"
) -> None:
    for key, line in getattr(body, "duplicates", []):
        ctx.diag.error(src.display, line, where, f"duplicate {what} {key!r}")


def _lookup(
    ctx: Context, src: SourceFile, name: str, line: int, where: str, kinds: tuple[str, ...]
) -> Decl | None:
    decl = ctx.decls.get(name)
    if decl is None or decl.kind not in kinds:
        label = " or ".join(kinds)
        if decl is None and kinds != ("mixin",) and name[:1].islower():
            ctx.diag.error(
                src.display, line, where,
                f"unknown scalar type {name!r} (scalars: {', '.join(SCALARS)})",
            )  # fmt: skip
        else:
            ctx.diag.error(src.display, line, where, f"unknown {label} {name!r}")
        return None
    if decl.source.display not in ctx.visible[src.display]:
        ctx.diag.error(
            src.display, line, where,
            f"{decl.kind} {name!r} is declared in {decl.source.display}, which this file does not import",
        )  # fmt: skip
        return None
    return decl


# --- enums -------------------------------------------------------------------------------------


def _resolve_enum(ctx: Context, d: Decl) -> ir.EnumIR:
    src, body = d.source, d.body
    _check_keys(ctx, src, body, ENUM_KEYS, d.name, "enum key")
    storage = body.get("type", "string")
    if storage not in ENUM_STORAGE:
        ctx.diag.error(
            src.display, body.line_of("type"), d.name,
            f"enum type must be string or an integer scalar, not {storage!r}",
        )  # fmt: skip
        storage = "string"
    values = body.get("values")
    members: list[ir.EnumMemberIR] = []
    raw: list[Any] = []
    line = body.line_of("values")
    if storage == "string":
        if not isinstance(values, LList) or not values:
            ctx.diag.error(
                src.display, line, d.name, "a string enum needs a non-empty list of values"
            )
            values = LList()
        for v in values:
            if not isinstance(v, str):
                ctx.diag.error(src.display, line, d.name, f"enum value {v!r} is not a string")
                continue
            if v in raw:
                ctx.diag.error(src.display, line, d.name, f"enum value {v!r} is listed twice")
                continue
            raw.append(v)
            members.append(ir.EnumMemberIR(_member_name(v), repr(v)))
    else:
        if not isinstance(values, LDict) or not values:
            ctx.diag.error(src.display, line, d.name, "an integer enum needs a mapping NAME: code")
            values = LDict()
        _report_duplicates(ctx, src, values, d.name, what="enum member")
        scalar = SCALARS[storage]
        for name, code in values.items():
            where = f"{d.name}.{name}"
            if not name.isidentifier() or keyword.iskeyword(name):
                ctx.diag.error(
                    src.display, values.line_of(name), where, f"invalid enum member name {name!r}"
                )
                continue
            if not isinstance(code, int) or isinstance(code, bool):
                ctx.diag.error(
                    src.display,
                    values.line_of(name),
                    where,
                    f"enum code {code!r} is not an integer",
                )
                continue
            if code in raw:
                ctx.diag.error(
                    src.display, values.line_of(name), where,
                    f"enum value {code} clashes with another member",
                )  # fmt: skip
                continue
            if not scalar.low <= code <= scalar.high:  # type: ignore[operator]
                ctx.diag.error(
                    src.display,
                    values.line_of(name),
                    where,
                    f"enum code {code} does not fit {storage}",
                )
                continue
            raw.append(code)
            members.append(ir.EnumMemberIR(name, repr(code)))
    names = [m.name for m in members]
    for n in {n for n in names if names.count(n) > 1}:
        ctx.diag.error(
            src.display, line, d.name, f"enum member name {n!r} clashes with another value"
        )
    return ir.EnumIR(
        name=d.name,
        module=ctx.module_of(src),
        description=str(body.get("description", "")),
        storage=storage,
        base="str, enum.Enum" if storage == "string" else "enum.IntEnum",
        members=members,
        values_expr=repr(raw),
    )


def _member_name(value: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper() or "EMPTY"
    return f"V_{name}" if name[0].isdigit() else name


# --- types -------------------------------------------------------------------------------------


def _resolve_type(ctx: Context, d: Decl) -> ir.TypeIR:
    src, body = d.source, d.body
    _check_keys(ctx, src, body, TYPE_KEYS, d.name, "type key")
    tag = body.get("tag", d.name)
    if not isinstance(tag, str) or not tag or "." in tag:
        ctx.diag.error(
            src.display,
            body.line_of("tag"),
            d.name,
            f"invalid tag {tag!r}: a non-empty string without '.'",
        )
        tag = d.name
    serialization = body.get("serialization", "default")
    if serialization not in SERIALIZATION_FORMATS:
        ctx.diag.error(
            src.display, body.line_of("serialization"), d.name,
            f"unknown serialization format {serialization!r} (expected one of: {', '.join(SERIALIZATION_FORMATS)})",
        )  # fmt: skip
        serialization = "default"
    specs: list[tuple[str, Any, SourceFile, int, str]] = []  # (name, spec, file, line, origin)
    mixins = body.get("mixins", [])
    if not isinstance(mixins, list):
        ctx.diag.error(
            src.display, body.line_of("mixins"), d.name, "'mixins' must be a list of mixin names"
        )
        mixins = []
    for mixin_name in mixins:
        mixin = _lookup(ctx, src, str(mixin_name), body.line_of("mixins"), d.name, ("mixin",))
        if mixin is None:
            continue
        _check_keys(ctx, mixin.source, mixin.body, MIXIN_KEYS, mixin.name, "mixin key")
        specs.extend(_field_specs(ctx, mixin, origin=mixin.name))
    specs.extend(_field_specs(ctx, d, origin="own"))
    fields: list[ir.FieldIR] = []
    seen: dict[str, str] = {}
    deps: list[str] = []
    for name, spec, fsrc, line, origin in specs:
        where = f"{d.name}.{name}"
        if name in seen:
            also = "" if seen[name] == origin == "own" else f" (also from {seen[name]})"
            ctx.diag.error(src.display, line, where, f"duplicate field {name!r}{also}")
            continue
        seen[name] = origin
        f = _resolve_field(ctx, d.name, name, spec, fsrc, line)
        if f is not None:
            fields.append(f)
            if f.nested and f.nested not in deps:
                deps.append(f.nested)
    if not fields and not specs:
        ctx.diag.error(src.display, d.line, d.name, "a type needs at least one field")
    rules = _resolve_rules(ctx, d, {f.name: f for f in fields})
    slerp = _resolve_slerp(ctx, d, {f.name: f for f in fields})
    return ir.TypeIR(
        name=d.name,
        tag=tag,
        module=ctx.module_of(src),
        description=str(body.get("description", "")).strip(),
        serialization=serialization,
        fields=fields,
        rules=rules,
        slerp=slerp,
        deps=deps,
    )


def _field_specs(
    ctx: Context, owner: Decl, origin: str
) -> list[tuple[str, Any, SourceFile, int, str]]:
    fields = owner.body.get("fields", LDict() if owner.kind == "mixin" else None)
    if fields is None:
        return []
    if not isinstance(fields, LDict):
        ctx.diag.error(
            owner.source.display,
            owner.body.line_of("fields"),
            owner.name,
            "'fields' must be a mapping",
        )
        return []
    _report_duplicates(ctx, owner.source, fields, owner.name, what="field")
    return [
        (name, spec, owner.source, fields.line_of(name), origin) for name, spec in fields.items()
    ]


def _resolve_field(
    ctx: Context,
    type_name: str,
    name: str,
    spec: Any,
    fsrc: SourceFile,
    line: int,
) -> ir.FieldIR | None:
    where = f"{type_name}.{name}"
    err = ctx.diag.error
    if not FIELD_NAME.match(name):
        err(fsrc.display, line, where, f"invalid field name {name!r}: use lower_snake_case")
        return None
    if keyword.iskeyword(name) or name in RESERVED_FIELD_NAMES:
        err(fsrc.display, line, where, f"field name {name!r} is a reserved word")
        return None
    if isinstance(spec, str):
        spec_d = LDict({"type": spec})
        spec_d.line, spec_d.key_lines, spec_d.duplicates = line, {}, []
        spec = spec_d
    if not isinstance(spec, LDict):
        err(fsrc.display, line, where, "a field must be a mapping with at least 'type'")
        return None
    _check_keys(ctx, fsrc, spec, FIELD_KEYS, where, "field key")
    _report_duplicates(ctx, fsrc, spec, where)
    type_text = spec.get("type")
    if not isinstance(type_text, str):
        err(fsrc.display, line, where, "missing 'type'")
        return None
    m = FIELD_TYPE.match(type_text.replace(" ", ""))
    if not m:
        err(fsrc.display, spec.line_of("type"), where, f"cannot parse type {type_text!r}")
        return None
    base, suffix = m.group(1), m.group(2)
    dims: list[int | None] = []
    for size in re.findall(r"\[([^\]]*)\]", suffix):
        if size == "":
            dims.append(None)
        elif size.isdigit() and int(size) > 0:
            dims.append(int(size))
        else:
            err(
                fsrc.display,
                spec.line_of("type"),
                where,
                f"fixed-size list needs a positive integer size, got [{size}]",
            )
            return None
    scalar: Scalar | None = SCALARS.get(base)
    enum_decl = struct_decl = None
    if scalar is None:
        decl = _lookup(ctx, fsrc, base, spec.line_of("type"), where, ("type", "enum"))
        if decl is None:
            return None
        if decl.kind == "enum":
            enum_decl = decl
            scalar = (
                SCALARS[str(decl.body.get("type", "string"))]
                if decl.body.get("type", "string") in SCALARS
                else SCALARS["string"]
            )
        else:
            struct_decl = decl
            if len(dims) > 1:
                err(
                    fsrc.display,
                    spec.line_of("type"),
                    where,
                    "lists of lists of a type are not supported",
                )
                return None
    default_given = "default" in spec
    default = spec.get("default")
    nullable = bool(spec.get("nullable", False)) or (default_given and default is None)
    wire_nullable = bool(spec.get("wire_nullable", False))
    arrow_nullable = nullable or wire_nullable
    description = str(spec.get("description", "")).strip()
    unit = spec.get("unit")
    unit = str(unit) if unit is not None else None

    # Python annotation, Arrow type expression, strategy of the innermost value.
    py = struct_decl.name if struct_decl else scalar.python  # type: ignore[union-attr]
    arrow = f"{struct_decl.name}.ARROW_TYPE" if struct_decl else scalar.arrow  # type: ignore[union-attr]
    low, high = _bounds(ctx, fsrc, spec, where, scalar if struct_decl is None else None)
    allowed = _allowed(ctx, fsrc, spec, where, scalar if struct_decl is None else None)
    enum_values = None
    if enum_decl is not None:
        enum_values = _enum_raw_values(enum_decl)
        allowed = enum_values if allowed is None else [v for v in allowed if v in enum_values]
    if struct_decl is not None:
        strategy = f"{ir._snake(struct_decl.name)}()"
    elif allowed is not None:
        strategy = f"st.sampled_from({allowed!r})"
    else:
        strategy = strategy_for(scalar, low, high)  # type: ignore[arg-type]
    for size in dims:
        py = f"list[{py}]"
        arrow = f'pa.list_(pa.field("item", {arrow}){"" if size is None else f", {size}"})'
        strategy = f"st.lists({strategy}, min_size={size or 0}, max_size={size or 3})"
    length = _lengths(ctx, fsrc, spec, where, dims)
    if length is not None and dims:
        lo_len, hi_len = length
        strategy = (
            strategy.rsplit(", min_size=", 1)[0]
            + f", min_size={lo_len or 0}, max_size={hi_len if hi_len is not None else max(3, lo_len or 0)})"
        )

    has_default, default_expr, factory = _default(
        ctx,
        fsrc,
        spec,
        where,
        default_given,
        default,
        dims,
        scalar,
        struct_decl,
        low,
        high,
        allowed,
    )
    metadata: dict[str, str] = {}
    arrow_meta: dict[str, str] = {}
    if description:
        metadata["description"] = description
        arrow_meta["description"] = description
    if unit:
        metadata["unit"] = unit
        arrow_meta["unit"] = unit
    arrow_field = f'pa.field("{name}", {arrow}, nullable={arrow_nullable}' + (
        f", metadata={arrow_meta!r})" if arrow_meta else ")"
    )

    checks, column_checks, constant = _checks(
        type_name, name, dims, scalar, struct_decl, low, high, allowed, length
    )
    if wire_nullable and not nullable:
        column_checks.insert(0, "columnar.Required()")
    if nullable:
        strategy = f"st.none() | {strategy}"
        py = f"{py} | None"
    return ir.FieldIR(
        name=name,
        annotation=py,
        description=description,
        unit=unit,
        nullable=nullable,
        arrow_nullable=arrow_nullable,
        has_default=has_default or nullable,
        default_expr=default_expr if has_default else "None",
        default_is_factory=factory,
        arrow_type_expr=arrow_field,
        metadata_expr=repr(metadata),
        nested=struct_decl.name if struct_decl else None,
        object_checks=checks,
        column_checks=column_checks,
        strategy_expr=strategy,
        allowed_constant=constant,
    )


def _enum_raw_values(decl: Decl) -> list[Any]:
    values = decl.body.get("values")
    if isinstance(values, LDict):
        return [v for v in values.values() if isinstance(v, int)]
    if isinstance(values, list):
        return [v for v in values if isinstance(v, str)]
    return []


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _bounds(
    ctx: Context, src: SourceFile, spec: LDict, where: str, scalar: Scalar | None
) -> tuple[Any, Any]:
    low, high = spec.get("min"), spec.get("max")
    for key, v in (("min", low), ("max", high)):
        if v is None:
            continue
        if scalar is None or not scalar.is_numeric:
            ctx.diag.error(
                src.display, spec.line_of(key), where, f"'{key}' applies only to numeric fields"
            )
            return None, None
        if not _is_number(v):
            ctx.diag.error(
                src.display, spec.line_of(key), where, f"'{key}' must be a number, got {v!r}"
            )
            return None, None
    if low is not None and high is not None and low > high:
        ctx.diag.error(
            src.display, spec.line_of("min"), where, f"min ({low}) is greater than max ({high})"
        )
        return None, None
    return low, high


def _kind_ok(scalar: Scalar, v: Any) -> bool:
    if scalar.is_integer:
        return isinstance(v, int) and not isinstance(v, bool) and scalar.low <= v <= scalar.high  # type: ignore[operator]
    if scalar.is_float:
        return _is_number(v)
    return isinstance(v, {"bool": bool, "string": str, "binary": bytes}[scalar.yaml])


def _allowed(
    ctx: Context, src: SourceFile, spec: LDict, where: str, scalar: Scalar | None
) -> list[Any] | None:
    allowed = spec.get("allowed")
    if allowed is None:
        return None
    line = spec.line_of("allowed")
    if scalar is None or not isinstance(allowed, list) or not allowed:
        ctx.diag.error(
            src.display, line, where, "'allowed' must be a non-empty list of scalar values"
        )
        return None
    bad = [v for v in allowed if not _kind_ok(scalar, v)]
    if bad:
        ctx.diag.error(
            src.display, line, where, f"allowed value {bad[0]!r} is not a valid {scalar.yaml}"
        )
        return None
    return list(allowed)


def _lengths(
    ctx: Context, src: SourceFile, spec: LDict, where: str, dims: list[int | None]
) -> tuple[int | None, int | None] | None:
    keys = [k for k in ("length", "min_length", "max_length") if k in spec]
    if not keys:
        return None
    if not dims or dims[-1] is not None:
        ctx.diag.error(
            src.display, spec.line_of(keys[0]), where, f"'{keys[0]}' applies only to variable lists"
        )
        return None
    vals = {k: spec[k] for k in keys}
    for k, v in vals.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            ctx.diag.error(
                src.display, spec.line_of(k), where, f"'{k}' must be a non-negative integer"
            )
            return None
    if "length" in vals:
        return vals["length"], vals["length"]
    lo, hi = vals.get("min_length"), vals.get("max_length")
    if lo is not None and hi is not None and lo > hi:
        ctx.diag.error(
            src.display,
            spec.line_of("min_length"),
            where,
            f"min_length ({lo}) is greater than max_length ({hi})",
        )
        return None
    return lo, hi


def _default(
    ctx: Context, src: SourceFile, spec: LDict, where: str, given: bool, value: Any,
    dims: list[int | None], scalar: Scalar | None, struct_decl: Decl | None,
    low: Any, high: Any, allowed: list[Any] | None,
) -> tuple[bool, str, bool]:  # fmt: skip
    if not given or value is None:
        return False, "None", False
    line = spec.line_of("default")
    if dims:
        if value == [] and isinstance(value, list):
            return True, "list", True
        ctx.diag.error(
            src.display, line, where, f"bad default {value!r}: a list field only takes [] or null"
        )
        return False, "None", False
    if struct_decl is not None or scalar is None:
        ctx.diag.error(
            src.display, line, where, f"bad default {value!r}: a nested type only takes null"
        )
        return False, "None", False
    ok = _kind_ok(scalar, value)
    if ok and low is not None and value < low or ok and high is not None and value > high:
        ok = False
    if ok and allowed is not None and value not in allowed:
        ok = False
    if not ok:
        ctx.diag.error(src.display, line, where, f"bad default {value!r} for a {scalar.yaml} field")
        return False, "None", False
    return True, repr(value), False


def _checks(
    type_name: str, name: str, dims: list[int | None], scalar: Scalar | None, struct_decl: Decl | None,
    low: Any, high: Any, allowed: list[Any] | None, length: tuple[int | None, int | None] | None,
) -> tuple[list[ir.ObjectCheck], list[str], tuple[str, str] | None]:  # fmt: skip
    checks: list[ir.ObjectCheck] = []
    column: list[str] = []
    constant = None
    if allowed is not None:
        constant = (f"_ALLOWED_{type_name}_{name}", f"frozenset({allowed!r})")
        column.append(f"columnar.Allowed({allowed!r})")
    if low is not None or high is not None:
        column.append(f"columnar.Bounds({low!r}, {high!r})")
    if length is not None:
        column.append(f"columnar.Length({length[0]!r}, {length[1]!r})")
    if dims:
        checks.append(
            ir.ObjectCheck("instance", kinds="runtime.LIST_KINDS", expected="expected a list")
        )
        outer = dims[-1]
        if outer is not None:
            checks.append(ir.ObjectCheck("fixed_len", low=repr(outer)))
        if length is not None:
            checks.append(ir.ObjectCheck("len_range", low=repr(length[0]), high=repr(length[1])))
        if len(dims) == 1:
            if struct_decl is not None:
                checks.append(
                    ir.ObjectCheck(
                        "elem_instance",
                        kinds=struct_decl.name,
                        expected=f"expected {struct_decl.name} elements",
                    )
                )
            if low is not None or high is not None:
                checks.append(ir.ObjectCheck("elem_range", low=repr(low), high=repr(high)))
            if constant is not None:
                checks.append(ir.ObjectCheck("elem_allowed", constant=constant[0]))
        return checks, column, constant
    if struct_decl is not None:
        checks.append(
            ir.ObjectCheck(
                "instance", kinds=struct_decl.name, expected=f"expected {struct_decl.name}"
            )
        )
        return checks, column, constant
    assert scalar is not None
    checks.append(
        ir.ObjectCheck(
            "instance", kinds=scalar.kinds, expected=f"expected {scalar.python} ({scalar.yaml})"
        )
    )
    lo = low if low is not None else scalar.low
    hi = high if high is not None else scalar.high
    if lo is not None or hi is not None:
        checks.append(ir.ObjectCheck("range", low=repr(lo), high=repr(hi)))
    if constant is not None:
        checks.append(ir.ObjectCheck("allowed", constant=constant[0]))
    return checks, column, constant


def _resolve_rules(ctx: Context, d: Decl, fields: dict[str, ir.FieldIR]) -> list[ir.RuleIR]:
    rules = d.body.get("rules", [])
    line = d.body.line_of("rules")
    if not isinstance(rules, list):
        ctx.diag.error(d.source.display, line, d.name, "'rules' must be a list")
        return []
    out = []
    for rule in rules:
        if not isinstance(rule, LDict) or len(rule) != 1:
            ctx.diag.error(
                d.source.display,
                line,
                d.name,
                f"a rule is one of {', '.join(RULE_KINDS)}: [field, ...]",
            )
            continue
        kind, names = next(iter(rule.items()))
        if kind not in RULE_KINDS or not isinstance(names, list) or len(names) < 2:
            ctx.diag.error(
                d.source.display, line, d.name, f"unknown rule {kind!r} or fewer than two fields"
            )
            continue
        missing = [n for n in names if n not in fields]
        if missing:
            ctx.diag.error(
                d.source.display, line, d.name, f"rule {kind} names unknown field {missing[0]!r}"
            )
            continue
        if kind == "ordered" and any(
            "list[" in fields[n].annotation or fields[n].nested for n in names
        ):
            ctx.diag.error(d.source.display, line, d.name, "rule ordered needs scalar fields")
            continue
        out.append(ir.RuleIR(kind, [str(n) for n in names]))
    return out


def _resolve_slerp(ctx: Context, d: Decl, fields: dict[str, ir.FieldIR]) -> list[str]:
    """``slerp: [x, y, z, w]``: the four float fields that interpolate as a unit quaternion."""
    names = d.body.get("slerp")
    if names is None:
        return []
    line = d.body.line_of("slerp")
    if not isinstance(names, list) or len(names) != 4 or not all(isinstance(n, str) for n in names):
        ctx.diag.error(d.source.display, line, d.name, "'slerp' lists four fields: [x, y, z, w]")
        return []
    for name in names:
        f = fields.get(name)
        if f is None:
            ctx.diag.error(d.source.display, line, d.name, f"slerp names unknown field {name!r}")
            return []
        if f.annotation.removesuffix(" | None") not in ("float",):
            ctx.diag.error(d.source.display, line, d.name, f"slerp field {name!r} is not a float")
            return []
    return [str(n) for n in names]


# --- whole-ontology checks ---------------------------------------------------------------------


def _check_cycles(ctx: Context, types: dict[str, ir.TypeIR]) -> None:
    state: dict[str, int] = {}
    reported: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name) :] + [name]
            key = min(cycle[:-1])
            if key not in reported:
                reported.add(key)
                d = ctx.decls[name]
                ctx.diag.error(
                    d.source.display,
                    d.line,
                    name,
                    f"types nest each other in a cycle: {' -> '.join(cycle)}",
                )
            return
        state[name] = 1
        for dep in types[name].deps if name in types else []:
            visit(dep, [*path, name])
        state[name] = 2

    for name in types:
        visit(name, [])


def _check_tags(ctx: Context, types: dict[str, ir.TypeIR], taken: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for t in types.values():
        d = ctx.decls[t.name]
        other = seen.get(t.tag) or (
            taken.get(t.tag) if taken.get(t.tag) != t.module + "." + t.name else None
        )
        if other:
            ctx.diag.error(
                d.source.display,
                d.line,
                t.name,
                f"duplicate tag {t.tag!r} (already used by {other})",
            )
            continue
        seen[t.tag] = f"{t.module}.{t.name}"


# --- modules -----------------------------------------------------------------------------------


def _module(
    ctx: Context,
    src: SourceFile,
    own_types: list[ir.TypeIR],
    own_enums: list[ir.EnumIR],
    types: dict[str, ir.TypeIR],
    enums: dict[str, ir.EnumIR],
) -> ir.ModuleIR:
    ordered = _topological(own_types)
    imports: dict[str, set[str]] = {}
    module = ctx.module_of(src)
    for t in ordered:
        for dep in t.deps:
            dep_t = types.get(dep)
            if dep_t is not None and dep_t.module != module:
                imports.setdefault(dep_t.module, set()).add(dep)
    return ir.ModuleIR(
        name=src.path.stem,
        source=src.path.name,
        description=str(src.data.get("description", "")),
        enums=own_enums,
        types=ordered,
        imports=[ir.ImportIR(m, sorted(n)) for m, n in sorted(imports.items())],
    )


def _topological(own: list[ir.TypeIR]) -> list[ir.TypeIR]:
    """Types in YAML order, each moved after the same-module types it nests."""
    by_name = {t.name: t for t in own}
    out: list[ir.TypeIR] = []
    placed: set[str] = set()

    def place(t: ir.TypeIR, stack: set[str]) -> None:
        if t.name in placed or t.name in stack:
            return
        for dep in t.deps:
            if dep in by_name:
                place(by_name[dep], stack | {t.name})
        placed.add(t.name)
        out.append(t)

    for t in own:
        place(t, set())
    return out
