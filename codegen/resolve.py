"""Phase 2: check the loaded YAML and resolve it into the typed model of `model.py`.

Every problem is recorded in the Diagnostics (file:line, Type.field, message) and resolution
goes on, so one run reports all of them. Fields are resolved in ``fields.py``, enums in
``enums.py``; this module resolves declarations, types, rules and modules.
"""

from __future__ import annotations

import keyword
import re
from typing import Any

from mosaico.ontology.constraints import RULE_KINDS, Rule
from mosaico_codegen import model
from mosaico_codegen.context import Context, Decl
from mosaico_codegen.diagnostics import Diagnostics
from mosaico_codegen.enums import resolve_enum
from mosaico_codegen.fields import resolve_field
from mosaico_codegen.loader import LDict, SourceFile
from mosaico_codegen.typemap import SERIALIZATION_FORMATS

TYPE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
FILE_KEYS = {"description", "imports", "enums", "mixins", "types"}
TYPE_KEYS = {"description", "tag", "serialization", "mixins", "fields", "rules", "slerp"}
MIXIN_KEYS = {"description", "fields"}
SECTIONS = (("types", "type"), ("enums", "enum"), ("mixins", "mixin"))

FieldSpec = tuple[str, Any, SourceFile, int, str]  # (name, spec, file, line, origin)


def resolve(
    sources: list[SourceFile],
    targets: list[SourceFile],
    visible: dict[str, set[str]],
    package: str,
    std_package: str,
    taken_tags: dict[str, str],
    diag: Diagnostics,
) -> list[model.Module]:
    """Resolve every loaded file; return the modules of `targets` (sorted by name)."""
    ctx = Context(diag=diag, package=package, std_package=std_package, visible=visible)
    for src in sources:
        _collect(ctx, src)
    types = {d.name: _resolve_type(ctx, d) for d in ctx.decls.values() if d.kind == "type"}
    enums = {d.name: resolve_enum(ctx, d) for d in ctx.decls.values() if d.kind == "enum"}
    _check_cycles(ctx, types)
    _check_tags(ctx, types, taken_tags)
    return [_module(ctx, src, types, enums) for src in sorted(targets, key=lambda s: s.path.stem)]


# --- declarations ------------------------------------------------------------------------------


def _collect(ctx: Context, src: SourceFile) -> None:
    data = src.data
    ctx.check_keys(src, data, FILE_KEYS, "", "top-level key")
    ctx.report_duplicates(src, data, "")
    if not src.path.stem.isidentifier() or keyword.iskeyword(src.path.stem):
        ctx.diag.error(src.display, 1, "", "file name must be a valid Python module name")
    for section, kind in SECTIONS:
        block = data.get(section)
        if block is None:
            continue
        if not isinstance(block, LDict):
            ctx.diag.error(src.display, data.line_of(section), "", f"'{section}' must be a mapping")
            continue
        ctx.report_duplicates(src, block, "", what=kind)
        for name, body in block.items():
            _declare(ctx, src, kind, name, body, block.line_of(name))


def _declare(ctx: Context, src: SourceFile, kind: str, name: str, body: Any, line: int) -> None:
    if not TYPE_NAME.match(name):
        message = f"invalid {kind} name {name!r}: use CamelCase letters and digits"
    elif not isinstance(body, LDict):
        message = f"a {kind} must be a mapping"
    elif name in ctx.decls:
        held = ctx.decls[name]
        message = f"name {name!r} is already declared in {held.source.display}:{held.line}"
    else:
        ctx.decls[name] = Decl(kind, name, src, line, body)
        return
    ctx.diag.error(src.display, line, name, message)


# --- types -------------------------------------------------------------------------------------


def _resolve_type(ctx: Context, d: Decl) -> model.Type:
    ctx.check_keys(d.source, d.body, TYPE_KEYS, d.name, "type key")
    specs = _mixin_specs(ctx, d) + _field_specs(ctx, d, origin="own")
    fields = _resolve_fields(ctx, d, specs)
    if not fields and not specs:
        ctx.diag.error(d.source.display, d.line, d.name, "a type needs at least one field")
    by_name = {f.name: f for f in fields}
    return model.Type(
        name=d.name,
        tag=_tag(ctx, d),
        module=ctx.module_of(d.source),
        description=str(d.body.get("description", "")).strip(),
        serialization=_serialization(ctx, d),
        fields=fields,
        rules=_resolve_rules(ctx, d, by_name),
        slerp=_resolve_slerp(ctx, d, by_name),
    )


def _tag(ctx: Context, d: Decl) -> str:
    tag = d.body.get("tag", d.name)
    if isinstance(tag, str) and tag and "." not in tag:
        return tag
    ctx.diag.error(
        d.source.display,
        d.body.line_of("tag"),
        d.name,
        f"invalid tag {tag!r}: a non-empty string without '.'",
    )
    return d.name


def _serialization(ctx: Context, d: Decl) -> str:
    serialization = d.body.get("serialization", "default")
    if serialization in SERIALIZATION_FORMATS:
        return str(serialization)
    ctx.diag.error(
        d.source.display, d.body.line_of("serialization"), d.name,
        f"unknown serialization format {serialization!r} (expected one of: {', '.join(SERIALIZATION_FORMATS)})",
    )  # fmt: skip
    return "default"


def _mixin_specs(ctx: Context, d: Decl) -> list[FieldSpec]:
    mixins = d.body.get("mixins", [])
    line = d.body.line_of("mixins")
    if not isinstance(mixins, list):
        ctx.diag.error(d.source.display, line, d.name, "'mixins' must be a list of mixin names")
        return []
    specs: list[FieldSpec] = []
    for mixin_name in mixins:
        mixin = ctx.lookup(d.source, str(mixin_name), line, d.name, ("mixin",))
        if mixin is not None:
            ctx.check_keys(mixin.source, mixin.body, MIXIN_KEYS, mixin.name, "mixin key")
            specs.extend(_field_specs(ctx, mixin, origin=mixin.name))
    return specs


def _field_specs(ctx: Context, owner: Decl, origin: str) -> list[FieldSpec]:
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
    ctx.report_duplicates(owner.source, fields, owner.name, what="field")
    return [
        (name, spec, owner.source, fields.line_of(name), origin) for name, spec in fields.items()
    ]


def _resolve_fields(ctx: Context, d: Decl, specs: list[FieldSpec]) -> list[model.Field]:
    fields: list[model.Field] = []
    seen: dict[str, str] = {}
    for name, spec, fsrc, line, origin in specs:
        if name in seen:
            also = "" if seen[name] == origin == "own" else f" (also from {seen[name]})"
            ctx.diag.error(
                d.source.display, line, f"{d.name}.{name}", f"duplicate field {name!r}{also}"
            )
            continue
        seen[name] = origin
        f = resolve_field(ctx, d.name, name, spec, fsrc, line)
        if f is not None:
            fields.append(f)
    return fields


def _resolve_rules(ctx: Context, d: Decl, fields: dict[str, model.Field]) -> list[Rule]:
    rules = d.body.get("rules", [])
    line = d.body.line_of("rules")
    if not isinstance(rules, list):
        ctx.diag.error(d.source.display, line, d.name, "'rules' must be a list")
        return []
    out: list[Rule] = []
    for rule in rules:
        problem = _rule_problem(rule, fields)
        if problem:
            ctx.diag.error(d.source.display, line, d.name, problem)
            continue
        kind, names = next(iter(rule.items()))
        out.append(RULE_KINDS[kind](tuple(str(n) for n in names)))
    return out


def _rule_problem(rule: Any, fields: dict[str, model.Field]) -> str:
    if not isinstance(rule, LDict) or len(rule) != 1:
        return f"a rule is one of {', '.join(RULE_KINDS)}: [field, ...]"
    kind, names = next(iter(rule.items()))
    if kind not in RULE_KINDS or not isinstance(names, list) or len(names) < 2:
        return f"unknown rule {kind!r} or fewer than two fields"
    missing = [n for n in names if n not in fields]
    if missing:
        return f"rule {kind} names unknown field {missing[0]!r}"
    scalar = (model.ScalarType, model.EnumType)
    if kind == "ordered" and not all(isinstance(fields[n].type, scalar) for n in names):
        return "rule ordered needs scalar fields"
    return ""


def _resolve_slerp(ctx: Context, d: Decl, fields: dict[str, model.Field]) -> tuple[str, ...]:
    """``slerp: [x, y, z, w]``: the four float fields that interpolate as a unit quaternion."""
    names = d.body.get("slerp")
    if names is None:
        return ()
    line = d.body.line_of("slerp")
    if not isinstance(names, list) or len(names) != 4 or not all(isinstance(n, str) for n in names):
        ctx.diag.error(d.source.display, line, d.name, "'slerp' lists four fields: [x, y, z, w]")
        return ()
    for name in names:
        problem = _slerp_problem(fields.get(name), name)
        if problem:
            ctx.diag.error(d.source.display, line, d.name, problem)
            return ()
    return tuple(str(n) for n in names)


def _slerp_problem(f: model.Field | None, name: str) -> str:
    if f is None:
        return f"slerp names unknown field {name!r}"
    if not (isinstance(f.type, model.ScalarType) and f.type.scalar.is_float):
        return f"slerp field {name!r} is not a float"
    return ""


# --- whole-ontology checks ---------------------------------------------------------------------


def _check_cycles(ctx: Context, types: dict[str, model.Type]) -> None:
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


def _check_tags(ctx: Context, types: dict[str, model.Type], taken: dict[str, str]) -> None:
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
    ctx: Context, src: SourceFile, types: dict[str, model.Type], enums: dict[str, model.Enum]
) -> model.Module:
    own = [d for d in ctx.decls.values() if d.source.display == src.display]
    ordered = _topological([types[d.name] for d in own if d.kind == "type"])
    imports: dict[str, set[str]] = {}
    module = ctx.module_of(src)
    for t in ordered:
        used: list[model.Type | model.Enum | None] = [types.get(d) for d in t.deps]
        used += [enums.get(e) for e in t.enum_deps]
        for dep in used:
            if dep is not None and dep.module != module:
                imports.setdefault(dep.module, set()).add(dep.name)
    return model.Module(
        name=src.path.stem,
        source=src.path.name,
        description=str(src.data.get("description", "")),
        enums=[enums[d.name] for d in own if d.kind == "enum"],
        types=ordered,
        imports=[model.Import(m, sorted(n)) for m, n in sorted(imports.items())],
    )


def _topological(own: list[model.Type]) -> list[model.Type]:
    """Types in YAML order, each moved after the same-module types it nests."""
    by_name = {t.name: t for t in own}
    out: list[model.Type] = []
    placed: set[str] = set()

    def place(t: model.Type, stack: set[str]) -> None:
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
