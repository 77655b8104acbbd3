"""Adapters: ROS messages of one type ⇄ topic record batches of one mosaico type."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import attrs
import pyarrow as pa

from mosaico.bridges.ros.arrow import batch

Row = dict[str, Any]


class TopicAdapter(Protocol):
    """What ingest and export need from an adapter."""

    @property
    def name(self) -> str:
        """Recorded in the topic metadata; picks the adapter again on export."""

    @property
    def tag(self) -> str: ...

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def serialization_format(self) -> str: ...

    def to_batch(self, msgs: Sequence[Any], log_times: Sequence[int]) -> pa.RecordBatch:
        """Many decoded messages → one record batch (`timestamp_ns` = log times)."""

    def to_ros(self, row: Row) -> Row:
        """One payload row → the ROS field dict of the message (see `RosFactory.build`)."""


@attrs.frozen
class Adapter:
    """A standard adapter: a ROS type onto a generated ontology type."""

    ros_type: str
    ontology: type
    columns: Callable[[Sequence[Any]], dict[str, pa.Array]]
    row_to_ros: Callable[[Row], Row]

    @property
    def name(self) -> str:
        return self.ros_type

    @property
    def tag(self) -> str:
        return str(self.ontology.TAG)  # type: ignore[attr-defined]

    @property
    def schema(self) -> pa.Schema:
        return self.ontology.ARROW_SCHEMA  # type: ignore[attr-defined, no-any-return]

    @property
    def serialization_format(self) -> str:
        return str(self.ontology.SERIALIZATION_FORMAT)  # type: ignore[attr-defined]

    def to_batch(self, msgs: Sequence[Any], log_times: Sequence[int]) -> pa.RecordBatch:
        return batch(self.schema, log_times, self.columns(msgs))

    def to_ros(self, row: Row) -> Row:
        return self.row_to_ros(row)


ADAPTERS: dict[str, Adapter] = {}


def register(
    ros_type: str,
    ontology: type,
    columns: Callable[[Sequence[Any]], dict[str, pa.Array]],
    row_to_ros: Callable[[Row], Row],
) -> None:
    """Add the standard adapter of `ros_type` (e.g. `sensor_msgs/msg/Imu`)."""
    if ros_type in ADAPTERS:
        raise ValueError(f"an adapter for {ros_type} is already registered")
    ADAPTERS[ros_type] = Adapter(ros_type, ontology, columns, row_to_ros)
