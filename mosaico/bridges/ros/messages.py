"""Building rosbags message objects from ROS field dicts, for export."""

from __future__ import annotations

from typing import Any

import numpy as np
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

_DTYPES = {"byte": np.dtype(np.int8), "char": np.dtype(np.uint8), "bool": np.dtype(np.bool_)}


def _dtype(base: str) -> np.dtype[Any]:
    return _DTYPES.get(base) or np.dtype(base)


class RosFactory:
    """Message objects of one typestore from nested dicts keyed by ROS field names.

    Tolerant by design, so one adapter serves ROS 1 and ROS 2: a key matches its field
    case-insensitively (`K` / `k`), keys the type lacks are dropped (`seq` in ROS 2) and
    absent or null fields get the ROS default (zero, empty).
    """

    def __init__(self, typestore: Typestore) -> None:
        self.typestore = typestore

    def build(self, msgtype: str, values: dict[str, Any] | None) -> Any:
        """The rosbags message object of `msgtype` from its field dict, nested types too.

        Numeric arrays become numpy arrays of the field's dtype (bytes are read in place);
        None stands for the whole message's defaults.

        Raises:
            KeyError: `msgtype`, or a type it nests, is not in the typestore.
            ValueError: a value does not convert to its field's type.
            TypeError: a value of a kind that does not convert at all (a list for a scalar).

        >>> from rosbags.typesys import Stores, get_typestore
        >>> factory = RosFactory(get_typestore(Stores.ROS2_HUMBLE))
        >>> header = factory.build("std_msgs/msg/Header", {"frame_id": "base", "stamp": {"sec": 3}})
        >>> header.stamp.nanosec
        0
        """
        values = values or {}
        lower = {k.lower(): v for k, v in values.items()}
        kwargs = {}
        for name, desc in self.typestore.fielddefs[msgtype][1]:
            value = values[name] if name in values else lower.get(name.lower())
            kwargs[name] = self._value(desc, value)
        return self.typestore.types[msgtype](**kwargs)

    def _value(self, desc: tuple[Any, Any], value: Any) -> Any:
        node, detail = desc
        if node == Nodetype.BASE:
            return _scalar(detail[0], value)
        if node == Nodetype.NAME:
            return self.build(detail, value)
        (inner_node, inner), size = detail
        count = size if node == Nodetype.ARRAY else 0
        if inner_node == Nodetype.NAME:
            items = value if value is not None else [None] * count
            return [self.build(inner, v) for v in items]
        base = inner[0]
        if base in ("string", "wstring"):
            return list(value) if value is not None else [""] * count
        if value is None:
            return np.zeros(count, dtype=_dtype(base))
        if isinstance(value, bytes | bytearray | memoryview):
            return np.frombuffer(value, dtype=_dtype(base))
        return np.asarray(value, dtype=_dtype(base))


def _scalar(base: str, value: Any) -> Any:
    if base in ("string", "wstring"):
        return value or ""
    if base == "bool":
        return bool(value)
    if base.startswith("float"):
        return float(value) if value is not None else 0.0
    return int(value) if value is not None else 0
