"""ROS topic names → mosaico topic names, and the `_ros_` topic metadata."""

from __future__ import annotations

import re
from typing import Any

from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.qos import recorded_qos
from mosaico.bridges.ros.source import RosSource, RosTopic
from mosaico.bridges.ros.typedefs import constants

ROS_KEY = "_ros_"
# The metadata of topics ingested from MCAP protobuf / JSON channels (mosaico.bridges.mcap).
MCAP_KEY = "_mcap_"
_BAD = re.compile(r"[^A-Za-z0-9_/-]")


def topic_name(ros_topic: str) -> str:
    """`/camera/image_raw` → `camera/image_raw`; characters mosaico forbids become `_`.

    A name starting with `_` or `-` gets a `t` in front: a mosaico topic name starts with
    an ASCII letter or digit.

    Raises:
        RosBridgeError: the name has no segment (`/`).

    >>> topic_name("/_debug/scan:front")
    't_debug/scan_front'
    """
    segments = [_BAD.sub("_", s) for s in ros_topic.split("/") if s]
    if not segments:
        raise RosBridgeError(f"ROS topic {ros_topic!r} has no name")
    if not segments[0][0].isalnum():
        segments[0] = "t" + segments[0]
    return "/".join(segments)


def topic_metadata(source: RosSource, topic: RosTopic, adapter: str) -> dict[str, Any]:
    """Everything export needs to write the topic of `source` back, under the `_ros_` key.

    Besides type and definition: the recording's `compression` (see `compression.py`) and
    the topic's QoS, `qos` or `latching` / `callerid` (see `qos.py`), when recorded.
    Ingest may add `originals`: values of the first message the mosaico type cannot hold
    (see `TopicAdapter.originals`).
    """
    ros = {
        "topic": topic.name,
        "type": topic.msgtype,
        "definition": topic.definition,
        "definition_format": topic.definition_format,
        "definition_sources": list(topic.definition_sources),
        "ros_version": source.ros_version,
        "adapter": adapter,
        "source": [p.name for p in source.paths],
        "constants": constants(source.typestore, topic.msgtype),
        **recorded_qos(topic.connections),
    }
    if (compression := source.compression.to_metadata()) is not None:
        ros["compression"] = compression
    return {ROS_KEY: ros}
