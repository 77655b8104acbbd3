"""Walking rosbags message definitions (the typestore's `fielddefs`)."""

from __future__ import annotations

from typing import Any

from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

# One-byte element types; arrays of them are stored as Arrow binary. In rosbags `byte`
# (IDL `octet`) is a signed int8 and `char` an unsigned uint8, in both ROS generations.
BYTE_NAMES = {"uint8", "byte", "char"}


def element(desc: tuple[Any, Any]) -> tuple[Any, Any]:
    """The element descriptor of an array/sequence field, the descriptor itself otherwise."""
    node, detail = desc
    return detail[0] if node in (Nodetype.ARRAY, Nodetype.SEQUENCE) else desc


def nested(fielddef: tuple[Any, Any]) -> list[str]:
    """The message types the fields of one definition (constants, fields) refer to."""
    out = []
    for _, desc in fielddef[1]:
        node, detail = element(desc)
        if node == Nodetype.NAME:
            out.append(detail)
    return out


def closure(typestore: Typestore, msgtype: str) -> list[str]:
    """The type and every message type it nests, transitively, in discovery order."""
    seen: list[str] = []
    todo = [msgtype]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo.extend(nested(typestore.fielddefs[name]))
    return seen


def constants(typestore: Typestore, msgtype: str) -> dict[str, dict[str, Any]]:
    """ROS constants (enumerations) of the type and its nested types, keyed by type name."""
    found = {}
    for name in closure(typestore, msgtype):
        consts = typestore.fielddefs[name][0]
        if consts:
            found[name] = {cname: value for cname, _, value in consts}
    return found
