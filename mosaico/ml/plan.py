"""One stream's synchronisation plan: its flat columns and how each is aligned.

Which fields interpolate as quaternions is `mosaico.ml.quaternions`' answer (the ontology,
an `Interpolate(slerp=...)` declaration, or detection on topics without a type).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import pyarrow as pa

from mosaico.ml.errors import MLInputError
from mosaico.ml.flatten import FixedLists, column_name, flat_schema
from mosaico.ml.policy import Interpolate, Stream
from mosaico.ml.quaternions import quaternion_groups
from mosaico.ml.source import TopicSource
from mosaico.protocol.topic_type import TIMESTAMP


def _under(column: str, name: str) -> bool:
    """Whether a flat column belongs to field `name`: a struct child or a list element."""
    if column.startswith(f"{name}."):
        return True
    rest = column[len(name) + 1 :]
    return column.startswith(f"{name}_") and rest.isdigit()


def _expand(requested: Sequence[str], available: list[str], topic: str) -> list[str]:
    """Resolve field names and struct prefixes to flat columns, keeping schema order."""
    chosen: set[str] = set()
    for name in requested:
        hit = [c for c in available if c == name or _under(c, name)]
        if not hit:
            shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
            raise MLInputError(f"topic {topic!r} has no field {name!r} (fields: {shown})")
        chosen.update(hit)
    return [c for c in available if c in chosen]


@attrs.define
class Plan:
    """One stream's resolved columns and how each is aligned.

    `columns` are the selected flat columns in schema order; each is in exactly one of
    `lerp` (linear interpolation), a `slerp` group (x, y, z, w of a quaternion) or `held`
    (the sample at or before the tick). `out_schema` names them `<topic>.<column>`.
    """

    stream: Stream
    columns: list[str]
    lerp: list[str]
    slerp: list[list[str]]
    held: list[str]
    out_schema: pa.Schema


def plan(stream: Stream, source: TopicSource, fixed_lists: FixedLists) -> Plan:
    """Resolve a stream's fields against its topic's flat schema.

    Raises:
        MLInputError: a field the topic lacks, or `Interpolate(fields=...)` naming a field
            that is not a float.
    """
    types = {
        f.name: f.type
        for f in flat_schema(source.schema, fixed_lists=fixed_lists)
        if f.name != TIMESTAMP
    }
    available = list(types)
    columns = (
        available if stream.fields is None else _expand(stream.fields, available, stream.topic)
    )
    lerp: list[str] = []
    slerp: list[list[str]] = []
    if isinstance(stream.policy, Interpolate):
        lerp, slerp = _interpolated(stream.topic, stream.policy, source.tag, columns, types)
    done = set(lerp) | {c for g in slerp for c in g}
    held = [c for c in columns if c not in done]
    out_schema = pa.schema(
        [pa.field(column_name(stream.topic, c), types[c], nullable=True) for c in columns]
    )
    return Plan(stream, columns, lerp, slerp, held, out_schema)


def _lerps(topic: str, policy: Interpolate, column: str, t: pa.DataType) -> bool:
    """Whether a column interpolates linearly: floats do; a named non-float is an error."""
    if pa.types.is_floating(t):
        return True
    if policy.fields is not None:
        raise MLInputError(f"topic {topic!r}: cannot interpolate field {column!r} of type {t}")
    return False


def _interpolated(
    topic: str,
    policy: Interpolate,
    tag: str,
    columns: list[str],
    types: Mapping[str, pa.DataType],
) -> tuple[list[str], list[list[str]]]:
    """The columns to interpolate linearly, and the quaternion groups to slerp.

    Raises:
        MLInputError: a declared quaternion that is not whole among the selected columns.
    """
    selected = set(columns)
    found, declared = quaternion_groups(topic, tag, policy.slerp, types)
    for group in declared:
        if not selected.issuperset(group):
            field = group[0].rsplit(".", 1)[0]
            raise MLInputError(
                f"topic {topic!r}: slerp field {field!r} needs {', '.join(group)} selected"
            )
    quats = [g for g in found if selected.issuperset(g)] + declared
    in_quat = {c for g in quats for c in g}
    wanted = columns if policy.fields is None else _expand(policy.fields, columns, topic)
    lerp = [c for c in wanted if c not in in_quat and _lerps(topic, policy, c, types[c])]
    chosen = set(wanted)
    return lerp, [g for g in quats if not chosen.isdisjoint(g)]
