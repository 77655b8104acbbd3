"""Resolution of enum declarations: string enums list values, integer enums map NAME: code."""

from __future__ import annotations

import keyword
import re

from mosaico_codegen import model
from mosaico_codegen.context import Context, Decl
from mosaico_codegen.loader import LDict, LList
from mosaico_codegen.typemap import ENUM_STORAGE, SCALARS, Scalar

ENUM_KEYS = {"description", "type", "values"}


def resolve_enum(ctx: Context, d: Decl) -> model.Enum:
    """The model of one enum declaration; its problems are reported to `ctx`.

    Always returns an enum so that resolution goes on: a bad storage type falls back to
    `string` and bad members are left out.
    """
    src, body = d.source, d.body
    ctx.check_keys(src, body, ENUM_KEYS, d.name, "enum key")
    storage = body.get("type", "string")
    if storage not in ENUM_STORAGE:
        ctx.diag.error(
            src.display, body.line_of("type"), d.name,
            f"enum type must be string or an integer scalar, not {storage!r}",
        )  # fmt: skip
        storage = "string"
    scalar = SCALARS[storage]
    members = _string_members(ctx, d) if storage == "string" else _integer_members(ctx, d, scalar)
    names = [m.name for m in members]
    for n in {n for n in names if names.count(n) > 1}:
        ctx.diag.error(
            src.display,
            body.line_of("values"),
            d.name,
            f"enum member name {n!r} clashes with another value",
        )
    return model.Enum(
        name=d.name,
        module=ctx.module_of(src),
        description=str(body.get("description", "")),
        scalar=scalar,
        members=members,
    )


def _string_members(ctx: Context, d: Decl) -> list[model.EnumMember]:
    values = d.body.get("values")
    line = d.body.line_of("values")

    def error(message: str) -> None:
        ctx.diag.error(d.source.display, line, d.name, message)

    if not isinstance(values, LList) or not values:
        error("a string enum needs a non-empty list of values")
        return []
    members: list[model.EnumMember] = []
    for v in values:
        if not isinstance(v, str):
            error(f"enum value {v!r} is not a string")
        elif any(m.value == v for m in members):
            error(f"enum value {v!r} is listed twice")
        else:
            members.append(model.EnumMember(member_name(v), v))
    return members


def _integer_members(ctx: Context, d: Decl, scalar: Scalar) -> list[model.EnumMember]:
    values = d.body.get("values")
    if not isinstance(values, LDict) or not values:
        ctx.diag.error(
            d.source.display,
            d.body.line_of("values"),
            d.name,
            "an integer enum needs a mapping NAME: code",
        )
        return []
    ctx.report_duplicates(d.source, values, d.name, what="enum member")
    members: list[model.EnumMember] = []
    for name, code in values.items():
        problem = _member_problem(name, code, scalar, members)
        if problem:
            ctx.diag.error(d.source.display, values.line_of(name), f"{d.name}.{name}", problem)
        else:
            members.append(model.EnumMember(name, code))
    return members


def _member_problem(
    name: str, code: object, scalar: Scalar, members: list[model.EnumMember]
) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        return f"invalid enum member name {name!r}"
    if not isinstance(code, int) or isinstance(code, bool):
        return f"enum code {code!r} is not an integer"
    if any(m.value == code for m in members):
        return f"enum value {code} clashes with another member"
    if not scalar.accepts(code):
        return f"enum code {code} does not fit {scalar.yaml}"
    return ""


def member_name(value: str) -> str:
    """The Python member name of a string enum value (``fast-run`` -> ``FAST_RUN``)."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper() or "EMPTY"
    return f"V_{name}" if name[0].isdigit() else name
