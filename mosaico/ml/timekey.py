"""The time a topic's rows are aligned on: its record time, or a time field of its own.

A synchronisation keys each topic's rows by one of:

- ``"record"`` (default): the envelope ``timestamp_ns``, when the row was logged;
- ``"header"``: the sensor time of the standard header, ``header.timestamp``;
- the dotted path of any time field of the topic: an integer leaf in nanoseconds
  (``"meas_time_ns"``), an Arrow timestamp, or a struct of seconds and nanoseconds, as
  ``header.stamp`` of a ROS message (``sec``/``nanosec``) or ``header.timestamp`` of the
  standard types (``seconds``/``nanoseconds``).

A key other than record time must be non-decreasing in record order (a sensor's own clock
usually is), so windows can be cut without sorting the stream.
"""

from __future__ import annotations

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.ml.errors import MLInputError
from mosaico.protocol.topic_type import TIMESTAMP

TimestampSource = str
"""``"record"``, ``"header"`` or the dotted path of a time field (see the module)."""

RECORD, HEADER = "record", "header"
_HEADER_PATH = "header.timestamp"
_PAIRS = (("seconds", "nanoseconds"), ("sec", "nanosec"), ("secs", "nsecs"))
_HINT = (
    "timestamp must be 'record', 'header' or the path of a time field: integer "
    "nanoseconds, an Arrow timestamp, or a struct of seconds and nanoseconds"
)


def check_timestamp_source(timestamp: object) -> None:
    """Raise `MLInputError` unless `timestamp` is a non-empty string (resolved per topic)."""
    if not isinstance(timestamp, str) or not timestamp:
        raise MLInputError(f"{_HINT}; got {timestamp!r}")


def _seconds_pair(t: pa.StructType) -> tuple[str, str] | None:
    for seconds, nanos in _PAIRS:
        i, j = t.get_field_index(seconds), t.get_field_index(nanos)
        if i >= 0 and j >= 0 and all(pa.types.is_integer(t.field(k).type) for k in (i, j)):
            return seconds, nanos
    return None


def _walk(schema: pa.Schema, path: tuple[str, ...]) -> pa.DataType | None:
    """The type at a dotted path through structs, or None when there is no such field."""
    t: pa.DataType | None = None
    fields: pa.Schema | pa.StructType = schema
    for step in path:
        index = fields.get_field_index(step)
        if index < 0:
            return None
        t = fields.field(index).type
        if pa.types.is_struct(t):
            fields = t
        elif step != path[-1]:
            return None
    return t


@attrs.frozen
class TimeKey:
    """One topic's time key, resolved against its schema; no fields: record time.

    ``path`` leads to the time field, ``pair`` names its seconds and nanoseconds children
    when it is a struct.
    """

    path: tuple[str, ...] = ()
    pair: tuple[str, str] | None = None

    @classmethod
    def resolve(cls, timestamp: TimestampSource, topic: str, schema: pa.Schema) -> TimeKey:
        """The key ``timestamp`` names on a topic of ``schema``.

        Raises:
            MLInputError: the topic has no such field, or it is not a time field.
        """
        check_timestamp_source(timestamp)
        if timestamp == RECORD:
            return cls()
        dotted = _HEADER_PATH if timestamp == HEADER else timestamp
        path = tuple(dotted.split("."))
        t = _walk(schema, path)
        if t is None:
            raise MLInputError(f"topic {topic!r} has no {dotted} to sync on ({_HINT})")
        if pa.types.is_integer(t) or pa.types.is_timestamp(t):
            return cls(path)
        pair = _seconds_pair(t) if pa.types.is_struct(t) else None
        if pair is None:
            raise MLInputError(f"topic {topic!r}: {dotted} is a {t}, not a time field ({_HINT})")
        return cls(path, pair)

    @property
    def is_record(self) -> bool:
        """Whether this is the record time ``timestamp_ns``."""
        return not self.path

    @property
    def label(self) -> str:
        """How messages name the key: ``timestamp_ns`` or the field's path."""
        return ".".join(self.path) if self.path else TIMESTAMP

    def keys(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray | None]:
        """The keys (ns) of the rows that have one, and the mask of those rows (None: all)."""
        if self.is_record:
            return batch.column(TIMESTAMP).to_numpy().astype(np.int64, copy=False), None
        column = batch.column(self.path[0])
        field = pc.struct_field(column, list(self.path[1:])) if len(self.path) > 1 else column
        if self.pair is None:
            if pa.types.is_timestamp(field.type):
                field = pc.cast(pc.cast(field, pa.timestamp("ns")), pa.int64())
            valid = field.is_valid().to_numpy(zero_copy_only=False)
            keys = field.fill_null(0).to_numpy().astype(np.int64)
        else:
            sec, nsec = (pc.struct_field(field, [name]) for name in self.pair)
            valid = pc.and_(sec.is_valid(), nsec.is_valid()).to_numpy(zero_copy_only=False)
            s = sec.fill_null(0).to_numpy().astype(np.int64)
            keys = s * 1_000_000_000 + nsec.fill_null(0).to_numpy().astype(np.int64)
        return (keys, None) if valid.all() else (keys[valid], valid)


RECORD_KEY = TimeKey()
"""The record time ``timestamp_ns``."""
