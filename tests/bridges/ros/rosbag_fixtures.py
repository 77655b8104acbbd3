"""Writes small ROS recordings with rosbags' own writers, filled with pseudo-random messages.

Messages are built by walking the typestore definitions (independently of the bridge), so
every field of every type carries a value.
"""

from __future__ import annotations

import random
import sqlite3
import string
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

START_NS = 1_700_000_000_000_000_000

# A custom message (with a nested custom type, arrays, constants) that no adapter knows.
WHEEL_MSG = """\
std_msgs/Header header
string[] names
float64[4] speeds
uint8[] blob
my_robot/Motor[] motors
my_robot/Motor main
int16 mode
byte[3] code
char letter
uint8 MODE_IDLE=0
uint8 MODE_RUN=1
"""
MOTOR_MSG = """\
string name
float32 current
bool enabled
geometry_msgs/Vector3[2] axes
"""
TF_MSG = "geometry_msgs/TransformStamped[] transforms\n"
# image_transport's free text: mosaico keeps the codec, `_ros_` metadata the full string.
LOSSY_FORMAT = "rgb8; jpeg compressed bgr8"

_INTS = {
    "int8": (-100, 100), "int16": (-30000, 30000), "int32": (-2**31, 2**31 - 1),
    "int64": (-2**63, 2**63 - 1), "uint8": (0, 255), "byte": (-128, 127), "char": (0, 255),
    "uint16": (0, 65535), "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1),
}  # fmt: skip
_DTYPES = {"byte": "int8", "char": "uint8", "bool": "bool_"}


def typestore(ros_version: int) -> Typestore:
    """Stock definitions plus the custom types."""
    store = get_typestore(Stores.ROS1_NOETIC if ros_version == 1 else Stores.ROS2_JAZZY)
    types = {}
    if "tf2_msgs/msg/TFMessage" not in store.fielddefs:  # not in rosbags' noetic store
        types.update(get_types_from_msg(TF_MSG, "tf2_msgs/msg/TFMessage"))
    types.update(get_types_from_msg(MOTOR_MSG, "my_robot/msg/Motor"))
    types.update(get_types_from_msg(WHEEL_MSG, "my_robot/msg/WheelState"))
    store.register(types)
    return store


class RandomMessages:
    """Deterministic pseudo-random messages of any registered type."""

    def __init__(self, store: Typestore, seed: int) -> None:
        self.store = store
        self.rng = random.Random(seed)

    def message(self, msgtype: str) -> Any:
        fields = self.store.fielddefs[msgtype][1]
        values = {name: self._value(name, desc, msgtype) for name, desc in fields}
        return self.store.types[msgtype](**values)

    def _scalar(self, base: str) -> Any:
        rng = self.rng
        if base == "bool":
            return rng.random() < 0.5
        if base == "string":
            return "".join(rng.choices(string.ascii_letters, k=rng.randint(0, 8)))
        if base == "float32":
            return float(np.float32(rng.uniform(-1e3, 1e3)))
        if base == "float64":
            return rng.uniform(-1e6, 1e6)
        low, high = _INTS[base]
        return rng.randint(low, high)

    def _value(self, name: str, desc: tuple[Any, Any], owner: str) -> Any:
        node, detail = desc
        if node == Nodetype.BASE:
            special = self._special(name, owner)
            return self._scalar(detail[0]) if special is None else special
        if node == Nodetype.NAME:
            return self.message(detail)
        (inner_node, inner), size = detail
        count = size if node == Nodetype.ARRAY else self.rng.randint(0, 4)
        if inner_node == Nodetype.NAME:
            return [self.message(inner) for _ in range(count)]
        base = inner[0]
        if base in ("uint8", "byte", "char") and node == Nodetype.SEQUENCE:
            count = self.rng.randint(0, 64)
        items = [self._scalar(base) for _ in range(count)]
        if base == "string":
            return items
        return np.array(items, dtype=_DTYPES.get(base, base))

    def _special(self, name: str, owner: str) -> Any:
        """Values the data model constrains: int32 seconds, valid codecs, fitting sizes."""
        if owner == "builtin_interfaces/msg/Time" or owner == "builtin_interfaces/msg/Duration":
            return (
                self.rng.randint(0, 2**31 - 1)
                if name == "sec"
                else self.rng.randint(0, 999_999_999)
            )
        if owner == "sensor_msgs/msg/CompressedImage" and name == "format":
            return LOSSY_FORMAT  # constant over a topic, as recorders write it
        if owner == "sensor_msgs/msg/Image" and name == "is_bigendian":
            return self.rng.randint(0, 1)
        if owner == "sensor_msgs/msg/Image" and name in ("width", "height", "step"):
            return self.rng.randint(1, 4000)  # mosaico Image sizes are int32
        if owner == "sensor_msgs/msg/PointField" and name == "datatype":
            return self.rng.randint(1, 8)
        if owner == "sensor_msgs/msg/RegionOfInterest" or name in ("binning_x", "binning_y"):
            return self.rng.randint(0, 4000)
        return None


def write(
    path: Path,
    fmt: str,
    topics: Sequence[tuple[str, str, int, int]],
    *,
    compression: str | None = None,
    mode: str = "message",
    seed: int = 0,
    edit: Callable[[str, int, Any], None] | None = None,
    connections: Mapping[str, dict[str, Any]] | None = None,
) -> tuple[Path, Typestore]:
    """A recording with (topic, msgtype, count, period ns) topics, interleaved by time.

    `edit(topic, index, message)` may change messages before they are written.
    `compression`: bz2 or lz4 chunks (ROS 1), zstd (rosbag2) in `mode` message, file or
    storage (MCAP chunks). `connections`: per-topic keywords of rosbags' `add_connection`
    (`latching`, `callerid`, `offered_qos_profiles`).

    `fmt`: bag (ROS 1), db3 or mcap (rosbag2). Returns the path to open (the .bag, the
    rosbag2 folder for db3, the bare .mcap file for mcap) and the typestore used.
    """
    store = typestore(1 if fmt == "bag" else 2)
    gen = RandomMessages(store, seed)
    events = sorted(
        (START_NS + i * period + k, k, i, topic, msgtype)
        for k, (topic, msgtype, count, period) in enumerate(topics)
        for i in range(count)
    )

    def message(topic: str, i: int, msgtype: str) -> Any:
        msg = gen.message(msgtype)
        if edit is not None:
            edit(topic, i, msg)
        return msg

    written = [(topic, ts, message(topic, i, msgtype), msgtype) for ts, _, i, topic, msgtype in events]
    if fmt == "bag":
        return _write_ros1(path, store, topics, written, compression, connections), store
    return _write_rosbag2(path, fmt, store, topics, written, compression, mode, connections), store


_Written = list[tuple[str, int, Any, str]]  # (topic, log time, message, msgtype) in time order


def _write_ros1(
    path: Path, store: Typestore, topics: Sequence[tuple[str, str, int, int]], written: _Written,
    compression: str | None, connections: Mapping[str, dict[str, Any]] | None,
) -> Path:  # fmt: skip
    writer = Writer1(path)
    if compression:
        writer.set_compression(Writer1.CompressionFormat[compression.upper()])
    with writer:
        conns = {
            t: writer.add_connection(t, m, typestore=store, **(connections or {}).get(t, {}))
            for t, m, _, _ in topics
        }
        for topic, ts, msg, msgtype in written:
            writer.write(conns[topic], ts, store.serialize_ros1(msg, msgtype))
    return path


def _write_rosbag2(
    path: Path, fmt: str, store: Typestore, topics: Sequence[tuple[str, str, int, int]],
    written: _Written, compression: str | None, mode: str,
    connections: Mapping[str, dict[str, Any]] | None,
) -> Path:  # fmt: skip
    plugin = StoragePlugin.MCAP if fmt == "mcap" else StoragePlugin.SQLITE3
    writer = Writer2(path, version=9, storage_plugin=plugin)
    if compression:
        writer.set_compression(CompressionMode[mode.upper()], CompressionFormat.ZSTD)
    with writer:
        conns = {
            t: writer.add_connection(t, m, typestore=store, **(connections or {}).get(t, {}))
            for t, m, _, _ in topics
        }
        for topic, ts, msg, msgtype in written:
            writer.write(conns[topic], ts, store.serialize_cdr(msg, msgtype))
    if fmt == "mcap" and (not compression or mode == "storage"):
        return next(path.glob("*.mcap"))
    return path


def strip_definitions(folder: Path) -> Path:
    """Make a rosbag2 sqlite3 bag look recorded before ROS 2 Iron: no `message_definitions`
    table (database schema 2) and metadata version 5, without type hashes or distro."""
    for db in folder.glob("*.db3"):
        with closing(sqlite3.connect(db)) as con, con:
            con.execute("DROP TABLE message_definitions")
            con.execute("DROP TABLE schema")
    meta_path = folder / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    info = meta["rosbag2_bagfile_information"]
    info["version"] = 5
    info.pop("ros_distro", None)
    for topic in info["topics_with_message_count"]:
        topic["topic_metadata"].pop("type_description_hash", None)
    meta_path.write_text(yaml.safe_dump(meta))
    return folder
