"""``TopicType``: the value every writer, reader and bridge shares for a topic's type."""

from __future__ import annotations

import pyarrow as pa
import pytest

from mosaico import GPS, IMU
from mosaico.errors import InputError, InputTypeError
from mosaico.protocol import TopicType

STAMP = pa.field("timestamp_ns", pa.int64(), nullable=False)


def test_a_generated_class_gives_its_topic_type() -> None:
    kind = IMU.topic_type()
    assert (kind.tag, kind.serialization_format, kind.codec, kind.name) == (
        "IMU",
        "default",
        IMU,
        "IMU",
    )
    assert kind.schema.equals(IMU.ARROW_SCHEMA)
    assert kind == TopicType("IMU", IMU.ARROW_SCHEMA, "default", IMU)
    assert hash(kind) == hash(IMU.topic_type())


def test_arrow_only_types_and_their_checks() -> None:
    ticks = TopicType("Ticks", pa.schema([STAMP, pa.field("n", pa.int32())]), "ragged")
    assert ticks.codec is None and ticks.name == "Ticks"
    with pytest.raises(InputError, match="starts with the column timestamp_ns"):
        TopicType("x", pa.schema([pa.field("n", pa.int32()), STAMP]))
    with pytest.raises(InputError, match="starts with the column timestamp_ns"):
        TopicType("x", pa.schema([]))
    with pytest.raises(InputTypeError, match="pyarrow.Schema"):
        TopicType("x", {"timestamp_ns": "int64"})  # type: ignore[arg-type]
    with pytest.raises(InputError, match="serialization_format 'zip'"):
        TopicType("x", pa.schema([STAMP]), "zip")
    with pytest.raises(InputError, match="does not convert to the topic schema"):
        TopicType("IMU", GPS.ARROW_SCHEMA, "default", IMU)
