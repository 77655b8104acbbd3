"""Which fields of a topic interpolate as quaternions (slerp), as flat column groups.

Three sources, in this order: the ontology (`slerp:` in a type's YAML, `SLERP_FIELDS` on
the generated class, found by walking the type's nested types, never by tag name); the
fields an `Interpolate(slerp=[...])` declares; and, for a topic without a registered type
and without a declaration, the structs of exactly four float fields x, y, z, w whose name
says quaternion (`orientation`, `rotation`, `quaternion`, `quat`, `attitude`, `q`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import cast

import pyarrow as pa

from mosaico.ml.errors import MLInputError
from mosaico.ontology import OntologyType, registry
from mosaico.tabular import column_name

_XYZW = ("x", "y", "z", "w")
_NAMED = ("orientation", "rotation", "quat", "attitude")


def slerp_groups(tag: str) -> list[list[str]]:
    """Flat column groups, in declared order, of the quaternion fields of an ontology type
    (e.g. `[["orientation.x", ..., "orientation.w"]]` for IMU; `[["x", "y", "z", "w"]]` for
    a Quaternion topic). Unknown tags have none."""
    cls = registry.get(tag)
    return [] if cls is None else list(_groups(cls, None))


def _groups(cls: type[OntologyType], prefix: str | None) -> Iterator[list[str]]:
    if cls.SLERP_FIELDS:
        yield [column_name(prefix, f) for f in cls.SLERP_FIELDS]
        return
    for name, sub in cls.NESTED.items():
        yield from _groups(cast(type[OntologyType], sub), column_name(prefix, name))


def _quaternion_at(prefix: str, types: Mapping[str, pa.DataType]) -> list[str] | None:
    """The x, y, z, w columns of `prefix` if it is a struct of exactly those four floats."""
    under = [c for c in types if c.startswith(f"{prefix}.")]
    group = [f"{prefix}.{c}" for c in _XYZW]
    if sorted(under) != sorted(group) or not all(pa.types.is_floating(types[c]) for c in group):
        return None
    return group


def _named_like_one(prefix: str) -> bool:
    name = prefix.rsplit(".", 1)[-1].lower()
    return name == "q" or any(word in name for word in _NAMED)


def detected_groups(types: Mapping[str, pa.DataType]) -> list[list[str]]:
    """The quaternion-named x, y, z, w float structs among a topic's flat columns."""
    parents = dict.fromkeys(c.rsplit(".", 1)[0] for c in types if "." in c)
    found = (_quaternion_at(p, types) for p in parents if _named_like_one(p))
    return [g for g in found if g is not None]


def declared_groups(
    topic: str, declared: Sequence[str], types: Mapping[str, pa.DataType]
) -> list[list[str]]:
    """The column groups of the quaternion structs an `Interpolate(slerp=...)` names.

    Raises:
        MLInputError: a name that is not a struct of exactly four float fields x, y, z, w.
    """
    groups = []
    for name in declared:
        group = _quaternion_at(name, types)
        if group is None:
            raise MLInputError(
                f"topic {topic!r}: slerp field {name!r} is not a struct of float x, y, z, w"
            )
        groups.append(group)
    return groups


def quaternion_groups(
    topic: str, tag: str, declared: Sequence[str] | None, types: Mapping[str, pa.DataType]
) -> tuple[list[list[str]], list[list[str]]]:
    """The topic's quaternion groups: those found (ontology, detection) and those declared.

    Raises:
        MLInputError: as `declared_groups`.
    """
    found = slerp_groups(tag)
    if declared is None:
        return (found if tag in registry else detected_groups(types)), []
    named = declared_groups(topic, declared, types)
    return [g for g in found if g not in named], named
