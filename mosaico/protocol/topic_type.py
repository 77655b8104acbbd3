"""``TopicType``: what a topic stores, as one value shared by writers, readers and bridges.

A topic type is a tag, the topic's Arrow schema (``timestamp_ns`` first, spec §6.5), the
serialization format hint of ``topic_create`` (spec §5.4.4) and, optionally, a codec: the
class that turns objects into record batches and back and checks values (every generated
ontology class is one; ``IMU.topic_type()`` gives its topic type). A type without codec
(a generic ROS message type, any Arrow-only topic) takes record batches only.

The codec is typed by the `TopicCodec` Protocol, so this module needs no ontology code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import attrs
import pyarrow as pa

from mosaico.errors import InputError, InputTypeError
from mosaico.protocol.actions import SERIALIZATION_FORMATS

TIMESTAMP = "timestamp_ns"
"""The envelope column of every topic: the row's time in ns, first in the schema (§4.1)."""
TIMESTAMP_FIELD = pa.field(TIMESTAMP, pa.int64(), nullable=False)
"""The ``timestamp_ns: int64 not null`` field every topic schema starts with."""


class TopicCodec(Protocol):
    """A class that converts a topic's objects to record batches and back.

    Every generated ontology class satisfies it (methods are classmethods: the codec is the
    class itself, its instances are the topic's objects).
    """

    ARROW_SCHEMA: ClassVar[pa.Schema]

    @classmethod
    def to_batch(cls, objs: Sequence[Any], timestamps_ns: Any) -> pa.RecordBatch:
        """A topic record batch of the objects, stamped with ``timestamps_ns``."""
        ...

    @classmethod
    def from_batch(cls, batch: pa.RecordBatch) -> list[Any]:
        """The objects of a topic record batch."""
        ...

    @classmethod
    def validate_batch(cls, batch: pa.RecordBatch) -> None:
        """Check a topic record batch's values; raises the ontology's ValidationError."""
        ...


def _check_schema(_: object, __: object, schema: pa.Schema) -> None:
    if not isinstance(schema, pa.Schema):
        msg = f"a topic schema must be a pyarrow.Schema, not {type(schema).__name__}"
        raise InputTypeError(msg)
    first = schema.field(0) if len(schema) else None
    if first is None or first.name != TIMESTAMP or not first.type.equals(pa.int64()):
        msg = (
            f"a topic schema starts with the column {TIMESTAMP}: int64, got {schema.names[:1]}\n"
            f"Hint: put pa.field({TIMESTAMP!r}, pa.int64(), nullable=False) first."
        )
        raise InputError(msg)


def _check_format(_: object, __: object, value: str) -> None:
    if value not in SERIALIZATION_FORMATS:
        msg = f"serialization_format {value!r} is not one of {list(SERIALIZATION_FORMATS)}"
        raise InputError(msg)


@attrs.frozen
class TopicType:
    """The stored type of a topic: tag, topic schema, serialization format, optional codec.

    Args:
        tag: the ontology tag stored with the topic (e.g. ``"IMU"``, or a ROS type name).
        schema: the topic's Arrow schema, ``timestamp_ns: int64`` first.
        serialization_format: ``"default"``, ``"ragged"`` or ``"image"`` (a storage hint).
        codec: the class converting objects <-> batches and checking values, or None for a
            topic that takes Arrow batches only. Its ``ARROW_SCHEMA`` must equal ``schema``.

    Raises:
        InputError / InputTypeError: a schema without ``timestamp_ns`` first, an unknown
            format, or a codec of another schema.

    >>> import pyarrow as pa
    >>> from mosaico.protocol import TopicType
    >>> wheel = TopicType("wheel_speed", pa.schema([
    ...     pa.field("timestamp_ns", pa.int64(), nullable=False), pa.field("rpm", pa.float32())]))
    >>> wheel.codec is None
    True
    """

    tag: str
    schema: pa.Schema = attrs.field(validator=_check_schema)
    serialization_format: str = attrs.field(default="default", validator=_check_format)
    codec: type[TopicCodec] | None = attrs.field(default=None)

    @codec.validator
    def _check_codec(self, _: object, codec: type[TopicCodec] | None) -> None:
        if codec is None:
            return
        schema = getattr(codec, "ARROW_SCHEMA", None)
        if not isinstance(schema, pa.Schema) or not schema.equals(self.schema):
            msg = (
                f"topic type {self.tag!r}: codec {codec!r} does not convert to the topic schema\n"
                "Hint: take a generated class's own topic type, e.g. IMU.topic_type()."
            )
            raise InputError(msg)

    @property
    def name(self) -> str:
        """What messages call the type: the codec's class name, else the tag."""
        return self.tag if self.codec is None else self.codec.__name__
