"""``Message``: one timestamped row of a topic, the envelope users push and read."""

from __future__ import annotations

from typing import Any


class Message:
    """A timestamp (ns, int64) and the ontology object it stamps.

    ``timestamp_ns`` is the record time the writer chooses (the server sorts by it and never
    reinterprets it); ``data`` is an ontology object, or `Unmodeled` when read back
    without its class. Compared by value.

    >>> msg = Message(1_700_000_000_000_000_000, Vector3d(x=0.0, y=0.0, z=9.81))

    A plain slotted class rather than attrs: readers build one per row, so ``__init__`` must
    stay as cheap as Python allows.
    """

    __slots__ = ("timestamp_ns", "data")

    def __init__(self, timestamp_ns: int, data: Any) -> None:
        self.timestamp_ns = timestamp_ns
        self.data = data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.timestamp_ns == other.timestamp_ns and self.data == other.data

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"Message(timestamp_ns={self.timestamp_ns!r}, data={self.data!r})"
