"""The generic adapter of protobuf and JSON topics: the message's own layout as Arrow.

The columns are the top-level fields of the message, laid out as `decoders.py` derives
them from the protobuf descriptor or the JSON schema; the tag is the schema name and the
schema itself is kept in the topic's `_mcap_` metadata (see `McapSource.topic_metadata`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pyarrow as pa

from mosaico.bridges.mcap.decoders import Decoded, DecodedMessages
from mosaico.bridges.ros.adapter import Row
from mosaico.bridges.ros.arrow import batch
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.generic import GENERIC
from mosaico.protocol.topic_type import TIMESTAMP, TIMESTAMP_FIELD, TopicType


@attrs.frozen
class McapGenericAdapter(DecodedMessages):
    """Keeps protobuf or JSON messages of any schema under the tag = schema name.

    The topic type has no codec (the data reads back as Arrow, or as `Unmodeled`); its
    serialization format is `ragged` when the message has lists or binary fields.
    """

    decoded: Decoded
    topic_type: TopicType

    @property
    def name(self) -> str:
        """Always `"generic"`."""
        return GENERIC

    def to_batch(self, msgs: Sequence[Any], log_times: Sequence[int]) -> pa.RecordBatch:
        """One column per top-level field of the message, after `timestamp_ns`.

        Raises:
            pyarrow.ArrowInvalid, pyarrow.ArrowTypeError: a value does not fit its field
                (a JSON message that does not follow its schema).
        """
        arr = pa.array(self.decoded.rows(msgs), type=self.decoded.layout)
        cols = {name: arr.field(name) for name in self.decoded.layout.names}
        return batch(self.topic_type.schema, log_times, cols)

    def to_ros(self, row: Row, originals: Row) -> Row:
        """Never called: a protobuf or JSON topic has no ROS type to export to.

        Raises:
            RosBridgeError: always.
        """
        raise RosBridgeError(
            f"{self.decoded.msgtype} ({self.decoded.schema_encoding}) has no ROS type to export to"
        )


def generic_adapter(decoded: Decoded) -> McapGenericAdapter:
    """The generic adapter of a protobuf or JSON schema.

    Raises:
        RosBridgeError: the message has a top-level field named `timestamp_ns`.
    """
    payload = list(decoded.layout)
    if any(f.name == TIMESTAMP for f in payload):
        raise RosBridgeError(
            f"{decoded.msgtype} has a field named timestamp_ns, the envelope column"
        )
    schema = pa.schema([TIMESTAMP_FIELD, *payload])
    ragged = any(pa.types.is_list(f.type) or pa.types.is_binary(f.type) for f in payload)
    topic_type = TopicType(decoded.msgtype, schema, "ragged" if ragged else "default")
    return McapGenericAdapter(decoded, topic_type)
