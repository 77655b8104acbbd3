"""The Python renderer: Jinja filters that print Python source from the typed model.

This is the only place where the model becomes Python: annotations, Arrow type expressions,
attrs field definitions, constraint values, the straight-line checks of ``validate()`` (cut
into functions of bounded complexity, see `validate_chunks`) and the hypothesis strategies. The templates loop over the model and call these filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from mosaico.ontology import constraints as c
from mosaico_codegen import model
from mosaico_codegen.typemap import Scalar


@attrs.frozen
class Check:
    """One step of a generated ``validate()``: fail with `reason` when `condition` holds."""

    condition: str
    reason: str  # Python string literal


# --- declarations ------------------------------------------------------------------------------


def annotation(f: model.Field) -> str:
    """The Python annotation of a field (``list[float] | None``); an enum field annotates
    as its Enum class (``Mode``, ``list[Level]``)."""
    text = _annotation(f.type)
    return f"{text} | None" if f.nullable else text


def _annotation(t: model.FieldType) -> str:
    if isinstance(t, model.ListType):
        return f"list[{_annotation(t.inner)}]"
    if isinstance(t, model.StructType | model.EnumType):
        return t.name
    return t.scalar.python


def arrow_type(t: model.FieldType) -> str:
    """The expression of a field type's pyarrow type (``pa.list_(pa.field("item", ...))``,
    ``Vector3d.ARROW_TYPE`` for a struct)."""
    if isinstance(t, model.ListType):
        size = "" if t.size is None else f", {t.size}"
        return f'pa.list_(pa.field("item", {arrow_type(t.inner)}){size})'
    if isinstance(t, model.StructType):
        return f"{t.name}.ARROW_TYPE"
    return t.scalar.arrow


def arrow_field(f: model.Field) -> str:
    """The ``pa.field(...)`` expression of a field: name, type, nullability and metadata."""
    meta = metadata(f)
    extra = f", metadata={meta}" if meta != "{}" else ""
    return f'pa.field("{f.name}", {arrow_type(f.type)}, nullable={f.arrow_nullable}{extra})'


def metadata(f: model.Field) -> str:
    """The field metadata dict as a literal (``description``, ``unit``; ``{}`` when none)."""
    meta = {}
    if f.description:
        meta["description"] = f.description
    if f.unit:
        meta["unit"] = f.unit
    return repr(meta)


def attrs_field(f: model.Field) -> str:
    """The ``attrs.field(...)`` of a class attribute: default, factory and metadata."""
    if f.default is not None and f.default.empty_list:
        default = "factory=list, "
    elif f.default is not None:
        default = f"default={f.default.value!r}, "
    elif f.nullable:
        default = "default=None, "
    else:
        default = ""
    convert = f"converter={converter_name(f.enum)}, " if f.enum else ""
    return f"attrs.field({default}{convert}metadata={metadata(f)})"


def converter_name(enum_name: str) -> str:
    """The module function converting an enum's field values to members (``_as_Mode``);
    a named function, as type checkers' attrs support requires of a converter."""
    return f"_as_{enum_name}"


def enum_converters(module: model.Module) -> list[str]:
    """The enums whose converters a module's fields use, sorted by name."""
    return sorted({e for t in module.types for e in t.enum_deps})


def enum_base(e: model.Enum) -> str:
    """The bases of a generated enum: ``str, enum.Enum`` for strings, else ``enum.IntEnum``."""
    return "str, enum.Enum" if e.scalar.yaml == "string" else "enum.IntEnum"


def constraints_value(value: c.Constraints) -> str:
    """``constraints.Constraints(...)`` with the keys that differ from the defaults."""
    args = [
        f"{a.name}={getattr(value, a.name)!r}"
        for a in attrs.fields(c.Constraints)
        if getattr(value, a.name) != a.default
    ]
    return f"constraints.Constraints({', '.join(args)})"


def rule_value(rule: c.Rule) -> str:
    """A rule as a constructor expression (``constraints.Ordered(('low', 'high'))``)."""
    return f"constraints.{type(rule).__name__}({rule.names!r})"


def allowed_constant(t: model.Type, f: model.Field) -> str:
    """The module constant holding a field's allowed values (``_ALLOWED_Image_format``)."""
    return f"_ALLOWED_{t.name}_{f.name}"


def uses_kinds(module: model.Module) -> bool:
    """Whether a module's checks name a kinds tuple (every field but a bare struct does)."""
    return any(not isinstance(f.type, model.StructType) for t in module.types for f in t.fields)


# --- validate() --------------------------------------------------------------------------------


def local(f: model.Field) -> str:
    """The local variable holding a field's value inside ``validate()`` and strategies."""
    return _local(f.name)


def local_names(names: tuple[str, ...]) -> str:
    """``v_a, v_b``: the locals of the fields a rule names."""
    return ", ".join(_local(n) for n in names)


def _local(name: str) -> str:
    return f"v_{name}"


def object_checks(f: model.Field, t: model.Type) -> list[Check]:
    """The per-object checks of a field, the kind check first.

    A required field's None fails that kind check too: its reason, chosen only then
    (``validity.missing_or``), says a value is required (one test instead of two on the
    hot path). A nullable field's checks run only on a value (the template guards them).
    """
    if isinstance(f.type, model.ListType):
        checks = _list_checks(f, t, f.type)
    elif isinstance(f.type, model.StructType):
        name = f.type.name
        checks = [Check(f"not isinstance({local(f)}, {name})", _lit(c.expected_type(name)))]
    else:
        checks = _scalar_checks(f, t, f.type.scalar)
    if not f.nullable:
        reason = f"validity.missing_or({local(f)}, {checks[0].reason})"
        checks[0] = attrs.evolve(checks[0], reason=reason)
    return checks


def _scalar_checks(f: model.Field, t: model.Type, scalar: Scalar) -> list[Check]:
    v, rules = local(f), f.constraints
    out = [
        Check(
            f"not isinstance({v}, kinds.{scalar.kinds})",
            _lit(c.expected_scalar(scalar.python, scalar.yaml)),
        )
    ]
    low = rules.low if rules.low is not None else scalar.low
    high = rules.high if rules.high is not None else scalar.high
    if low is not None or high is not None:
        out.append(Check(_range(v, low, high), _lit(c.within(low, high))))
    if rules.allowed is not None:
        out.append(Check(f"{v} not in {allowed_constant(t, f)}", _lit(c.one_of(rules.allowed))))
    return out


def _list_checks(f: model.Field, t: model.Type, lt: model.ListType) -> list[Check]:
    v, rules = local(f), f.constraints
    out = [Check(f"not isinstance({v}, kinds.LIST)", _lit(c.EXPECTED_LIST))]
    if lt.size is not None:
        out.append(Check(f"len({v}) != {lt.size}", _lit(c.exactly(lt.size))))
    if rules.sized:
        condition = _range(f"len({v})", rules.min_length, rules.max_length)
        out.append(Check(condition, _lit(c.between(rules.min_length, rules.max_length))))
    if model.depth(lt) != 1:
        return out
    if isinstance(lt.inner, model.StructType):
        name = lt.inner.name
        out.append(
            Check(f"any(not isinstance(x, {name}) for x in {v})", _lit(c.expected_elements(name)))
        )
    if rules.bounded:
        condition = f"len({v}) and {_range(v, rules.low, rules.high, 'min', 'max')}"
        out.append(Check(condition, _lit(c.elements_within(rules.low, rules.high))))
    if rules.allowed is not None:
        condition = f"any(x not in {allowed_constant(t, f)} for x in {v})"
        out.append(Check(condition, _lit(c.elements_among(rules.allowed))))
    return out


def _range(v: str, low: Any, high: Any, lo_fn: str = "", hi_fn: str = "") -> str:
    """``v < low or v > high`` (either side optional), parenthesised to combine safely."""
    parts = []
    if low is not None:
        parts.append(f"{_call(lo_fn, v)} < {low!r}")
    if high is not None:
        parts.append(f"{_call(hi_fn, v)} > {high!r}")
    return f"({' or '.join(parts)})"


def _call(fn: str, v: str) -> str:
    return f"{fn}({v})" if fn else v


def _lit(text: str) -> str:
    return repr(text)


@attrs.frozen
class RuleCheck:
    """One cross-field rule of a generated ``validate()``: fail when `condition` holds,
    naming the fields as `where` and the offending value(s) as `value`."""

    condition: str
    where: str  # "a/b"
    value: str  # expression of the offending value(s)
    reason: str  # Python string literal


def rule_checks(t: model.Type) -> list[RuleCheck]:
    """The checks of a type's rules, in YAML order.

    ``at_least_one_of`` fails when every named field is None; ``ordered`` fails when all
    are set and not in non-decreasing order (a None skips the check).
    """
    out = []
    for rule in t.rules:
        names = [_local(n) for n in rule.names]
        where = "/".join(rule.names)
        if isinstance(rule, c.AtLeastOneOf):
            condition = " and ".join(f"{n} is None" for n in names)
            out.append(RuleCheck(condition, where, "None", _lit(c.AT_LEAST_ONE)))
        else:
            present = "".join(f"{n} is not None and " for n in names)
            condition = f"{present}not ({' <= '.join(names)})"
            value = f"({', '.join(names)})"
            out.append(RuleCheck(condition, where, value, _lit(c.satisfies(rule.names))))
    return out


VALIDATE_BUDGET = 9
"""Most decision points (radon's cyclomatic complexity, less one) of one generated check
function: ``validate()`` checks its fields in consecutive chunks within this budget, the
first inline and the others in functions it calls, whatever the number of fields."""


@attrs.frozen
class Chunk:
    """The checks one function of a ``validate()`` runs: consecutive fields and, in the last
    chunk, the rules, which read again the fields of theirs checked by earlier chunks."""

    fields: list[model.Field]
    rules: bool = False
    reread: list[model.Field] = attrs.field(factory=list)


def validate_chunks(t: model.Type) -> list[Chunk]:
    """The chunks of a type's ``validate()``, in field order (one for most types)."""
    costs = [_field_decisions(f, t) for f in t.fields]
    costs.append(sum(_decisions(r.condition) for r in rule_checks(t)))  # the rules come last
    groups = [[t.fields[i] for i in group if i < len(t.fields)] for group in _pack(costs)]
    named = {n for r in t.rules for n in r.names}
    last = {f.name for f in groups[-1]}
    reread = [f for f in t.fields if f.name in named and f.name not in last]
    return [Chunk(g) for g in groups[:-1]] + [Chunk(groups[-1], rules=True, reread=reread)]


def _pack(costs: list[int]) -> list[list[int]]:
    """Consecutive positions of `costs`, grouped within `VALIDATE_BUDGET` (an item above
    it alone in its group)."""
    groups: list[list[int]] = [[]]
    used = 0
    for i, cost in enumerate(costs):
        if groups[-1] and used + cost > VALIDATE_BUDGET:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += cost
    return groups


def chunk_name(t: model.Type, index: int) -> str:
    """The module function running chunk `index` (from 1) of a ``validate()``."""
    return f"_validate_{t.name}_{index}"


def chunk_title(t: model.Type, chunk: Chunk) -> str:
    """The comment heading a chunk's function: which fields (and rules) it checks."""
    parts = [f.name for f in chunk.fields[:1]]
    if len(chunk.fields) > 1:
        parts = [f"{chunk.fields[0].name} to {chunk.fields[-1].name}"]
    if chunk.rules and t.rules:
        parts.append("the rules")
    return f"{t.name}.validate(), continued: {', then '.join(parts)}."


def _field_decisions(f: model.Field, t: model.Type) -> int:
    """The decision points of a field's checks: an ``if`` each, their conditions'
    operators, and the guard skipping them on None when the field is nullable."""
    return int(f.nullable) + sum(_decisions(c.condition) for c in object_checks(f, t))


def _decisions(condition: str) -> int:
    """One ``if`` on `condition`, plus its boolean operators and comprehension loops."""
    return 1 + sum(condition.count(op) for op in (" and ", " or ", " for "))


# --- hypothesis strategies ---------------------------------------------------------------------


def strategy(f: model.Field, non_null: bool = False) -> str:
    """The hypothesis strategy of a field's values, within its constraints."""
    rules = f.constraints
    el = model.leaf(f.type)
    if isinstance(el, model.StructType):
        text = f"{model.snake(el.name)}()"
    elif rules.allowed is not None:
        text = f"st.sampled_from({list(rules.allowed)!r})"
    else:
        text = _scalar_strategy(el.scalar, rules)
    sizes = []
    t = f.type
    while isinstance(t, model.ListType):
        sizes.append(t.size)
        t = t.inner
    for depth, size in enumerate(reversed(sizes), start=1):
        lo, hi = (size or 0, size or 3)
        if depth == len(sizes) and rules.sized:
            lo = rules.min_length or 0
            hi = rules.max_length if rules.max_length is not None else max(3, lo)
        text = f"st.lists({text}, min_size={lo}, max_size={hi})"
    return text if non_null or not f.nullable else f"st.none() | {text}"


def _scalar_strategy(scalar: Scalar, rules: c.Constraints) -> str:
    if scalar.low is not None and scalar.high is not None:
        lo = scalar.low if rules.low is None else max(int(rules.low), scalar.low)
        hi = scalar.high if rules.high is None else min(int(rules.high), scalar.high)
        return f"st.integers(min_value={lo}, max_value={hi})"
    if scalar.is_float:
        bounds = ""
        if rules.low is not None:
            bounds += f", min_value={float(rules.low)!r}"
        if rules.high is not None:
            bounds += f", max_value={float(rules.high)!r}"
        return f"st.floats(width={scalar.float_bits}, allow_nan=False{bounds})"
    return scalar.strategy


def rule_fields(t: model.Type) -> list[model.Field]:
    """Fields a rule constrains: drawn first into locals, then fixed up (sorted, or one
    of an ``at_least_one_of`` drawn again, non-null, when all came out null)."""
    named = {n for r in t.rules for n in r.names}
    return [f for f in t.fields if f.name in named]


def ordered_field(t: model.Type, f: model.Field) -> bool:
    """Jinja test: whether an ``ordered`` rule of `t` names `f` (its strategy is non-null,
    since the drawn values are sorted)."""
    return any(isinstance(r, c.Ordered) and f.name in r.names for r in t.rules)


FILTERS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        allowed_constant,
        annotation,
        arrow_field,
        attrs_field,
        chunk_name,
        chunk_title,
        constraints_value,
        converter_name,
        enum_base,
        local,
        local_names,
        metadata,
        object_checks,
        rule_checks,
        rule_fields,
        rule_value,
        strategy,
        validate_chunks,
    )
}
TESTS: dict[str, Callable[..., Any]] = {"ordered_field": ordered_field}
GLOBALS: dict[str, Any] = {
    "enum_converters": enum_converters,
    "uses_kinds": uses_kinds,
}
