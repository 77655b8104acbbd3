"""Adapters: ROS messages of one type ⇄ topic record batches of one mosaico type."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs
import pyarrow as pa

from mosaico.bridges.ros.arrow import batch
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.ontology import OntologyType
from mosaico.protocol.topic_type import TopicType

Row = dict[str, Any]


class TopicAdapter(Protocol):
    """What ingest and export need from an adapter."""

    @property
    def name(self) -> str:
        """Recorded in the topic metadata; picks the adapter again on export."""

    @property
    def topic_type(self) -> TopicType:
        """The mosaico type of the topic: a generated class's (with its codec), or an
        Arrow-only one derived from the ROS definition."""

    @property
    def keeps_originals(self) -> bool:
        """Whether `originals` may find values the mosaico type cannot hold."""

    def originals(self, msg: Any) -> Row:
        """Values of a topic's first message that its mosaico type holds only lossily,
        recorded in the topic's `_ros_` metadata so export restores them."""

    @property
    def ros_layout(self) -> bool:
        """Whether `to_batch` takes the messages as one struct array of the generic Arrow
        layout of their ROS type (the ROS adapters: ingest then decodes whole batches with
        `cdr.BatchDecoder`), rather than as the source's `deserialize` returns them."""

    def to_batch(self, msgs: Any, log_times: Sequence[int]) -> pa.RecordBatch:
        """Many messages → one record batch (`timestamp_ns` = log times).

        With `ros_layout`, `msgs` holds the messages in the generic Arrow layout of their
        ROS type (one struct per message, field names kept; see `generic`), as decoded from
        the raw bytes by `cdr.BatchDecoder` or gathered from rosbags' message objects by
        `generic.ros_rows`; otherwise the decoded messages (protobuf, JSON).
        """

    def to_ros(self, row: Row, originals: Row) -> Row:
        """One payload row → the ROS field dict of the message (see `RosFactory.build`)."""


@attrs.frozen
class Adapter:
    """A standard adapter: a ROS type onto a generated ontology type.

    Built by `register` from the column builder (`columns`: the messages as a struct array
    of the generic layout → the payload columns) and the reverse row function
    (`row_to_ros`); `keep` / `restore` carry the values the ontology type holds only lossily
    (see `TopicAdapter.originals`).
    """

    ros_type: str
    ontology: type[OntologyType]
    columns: Callable[[pa.StructArray], dict[str, pa.Array]]
    row_to_ros: Callable[[Row], Row]
    keep: Callable[[Any], Row] | None = None
    restore: Callable[[Row, Row], None] | None = None  # (ROS field dict, originals)

    @property
    def ros_layout(self) -> bool:
        """True: `to_batch` takes a struct array of the generic layout."""
        return True

    @property
    def keeps_originals(self) -> bool:
        """True when the adapter was registered with a `keep` function."""
        return self.keep is not None

    def originals(self, msg: Any) -> Row:
        """`keep(msg)`, or `{}` for an adapter that loses nothing."""
        return self.keep(msg) if self.keep is not None else {}

    @property
    def name(self) -> str:
        """The ROS type the adapter is registered for (`sensor_msgs/msg/Imu`)."""
        return self.ros_type

    @property
    def topic_type(self) -> TopicType:
        """The generated class's `TopicType`, its codec included."""
        return self.ontology.topic_type()

    def to_batch(self, rows: pa.StructArray, log_times: Sequence[int]) -> pa.RecordBatch:
        """The `columns` of `rows` under the class's `ARROW_SCHEMA`; fields the builders
        leave out must be nullable and are all null.

        Raises:
            UnknownNameError: a builder names a field the schema lacks, or leaves out a
                required one.
        """
        return batch(self.ontology.ARROW_SCHEMA, log_times, self.columns(rows))

    def to_ros(self, row: Row, originals: Row) -> Row:
        """`row_to_ros(row)`, then `restore` puts back the recorded `originals`, if any."""
        out = self.row_to_ros(row)
        if self.restore is not None and originals:
            self.restore(out, originals)
        return out


ADAPTERS: dict[str, Adapter] = {}
"""The standard adapters by ROS type, filled by `register`."""


def register(
    ros_type: str,
    ontology: type[OntologyType],
    columns: Callable[[pa.StructArray], dict[str, pa.Array]],
    row_to_ros: Callable[[Row], Row],
    keep: Callable[[Any], Row] | None = None,
    restore: Callable[[Row, Row], None] | None = None,
) -> None:
    """Add the standard adapter of `ros_type` (e.g. `sensor_msgs/msg/Imu`).

    Adapter modules call it at import time; `registry` imports them all.

    Args:
        ros_type: the full ROS type name the adapter reads and exports to.
        ontology: the generated class whose schema the batches have.
        columns: the messages as a struct array of the generic layout → payload columns
            by field name (see `parts`, `arrow.field`); Arrow-only, no per-row work.
        row_to_ros: one payload row (`to_pylist` form) → the ROS field dict.
        keep: first message → the values the ontology type would lose (see
            `TopicAdapter.originals`); None when nothing is lost.
        restore: edits the ROS field dict of one row in place from those values.

    Raises:
        RosBridgeError: `ros_type` has an adapter already.

    >>> import pyarrow as pa
    >>> from mosaico.types import Floating64
    >>> register(
    ...     "my_msgs/msg/Level",
    ...     Floating64,
    ...     lambda rows: {"data": rows.field("level").cast(pa.float64())},
    ...     lambda row: {"level": row["data"]},
    ... )
    """
    if ros_type in ADAPTERS:
        raise RosBridgeError(f"an adapter for {ros_type} is already registered")
    ADAPTERS[ros_type] = Adapter(ros_type, ontology, columns, row_to_ros, keep, restore)
