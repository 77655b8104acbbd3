"""Foxglove's well-known schemas → the standard mosaico types, from protobuf or JSON.

One adapter per schema name (`foxglove.LocationFix`, ...), the same for both encodings:
protobuf messages are read by attribute, JSON messages through `JsonView` (same field
names; times are `{sec, nsec}` instead of `{seconds, nanos}`). Values the mosaico type
cannot hold are listed in the adapter's `dropped` (and in the topic's `_mcap_` metadata);
`--adapter TOPIC=generic` keeps everything instead.

| Foxglove schema | mosaico type | dropped |
|---|---|---|
| LocationFix | GPS (velocity ENU → north, east, up) | heading, color, metadata |
| CompressedImage, CompressedVideo | CompressedImage | |
| RawImage | Image (`raw`, little-endian) | |
| FrameTransform | Transform (parent frame in the header) | |
| FrameTransforms | FrameTransform | |
| PoseInFrame | Pose | |
| PosesInFrame | RobotPath | |
| PointCloud | PointCloud2 (one row of little-endian points) | pose |
| LaserScan | LaserScan (range bounds 0, +inf) | pose |
| Odometry | MotionState | metadata |
| JointStates | RobotJoint | acceleration |
| CameraCalibration | CameraInfo | |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from mosaico.bridges.mcap.decoders import DecodedMessages
from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row
from mosaico.bridges.ros.arrow import attr, batch, binary, fixed_list, list_of, list_of_structs
from mosaico.bridges.ros.arrow import struct as struct_of
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.sensor_adapters import image_format
from mosaico.ontology import OntologyType
from mosaico.protocol.topic_type import TopicType
from mosaico.types import (
    GPS,
    CameraInfo,
    CompressedImage,
    FrameTransform,
    Header,
    Image,
    LaserScan,
    MotionState,
    Point3d,
    PointCloud2,
    PointField,
    Pose,
    RobotJoint,
    RobotPath,
    Time,
    Transform,
    Vector3d,
    Velocity,
)

Columns = Callable[[Sequence[Any]], dict[str, pa.Array]]
F32, F64, I32, U32 = pa.float32(), pa.float64(), pa.int32(), pa.uint32()


class JsonView:
    """Attribute access to a decoded JSON object, as protobuf messages give it.

    Nested objects are views too; `HasField(name)` is True when the key is present and not
    null. A missing key raises `AttributeError` naming it.
    """

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._data[name]
        except KeyError:
            raise AttributeError(f"the JSON message has no field {name!r}") from None
        if isinstance(value, dict):
            return JsonView(value)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return [JsonView(v) for v in value]
        return value

    def HasField(self, name: str) -> bool:  # noqa: N802 - the protobuf method's name
        """Whether the object has `name`, not null."""
        return self._data.get(name) is not None


@attrs.frozen
class FoxgloveAdapter(DecodedMessages):
    """A Foxglove schema onto a generated mosaico type (see the module table)."""

    schema: str
    ontology: type[OntologyType]
    columns: Columns
    dropped: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The Foxglove schema name, recorded as the topic's adapter."""
        return self.schema

    @property
    def topic_type(self) -> TopicType:
        """The generated class's `TopicType`, its codec included."""
        return self.ontology.topic_type()

    def to_batch(self, msgs: Sequence[Any], log_times: Sequence[int]) -> pa.RecordBatch:
        """The columns of `msgs` (protobuf messages or decoded JSON objects) under the
        type's `ARROW_SCHEMA`.

        Raises:
            AttributeError: a JSON message lacks a field of the schema.
            RosBridgeError: a value has no mosaico counterpart (an image codec, a point
                field type).
        """
        views = [JsonView(m) if isinstance(m, dict) else m for m in msgs]
        return batch(self.ontology.ARROW_SCHEMA, log_times, self.columns(views))

    def to_ros(self, row: Row, originals: Row) -> Row:
        """Never called: export writes these topics as the standard ROS type of their tag.

        Raises:
            RosBridgeError: always.
        """
        raise RosBridgeError(f"{self.schema} topics export through their mosaico type")


FOXGLOVE: dict[str, FoxgloveAdapter] = {}
"""The Foxglove adapters by schema name."""


def _register(
    name: str, ontology: type[OntologyType], columns: Columns, dropped: tuple[str, ...] = ()
) -> None:
    schema = "foxglove." + name
    FOXGLOVE[schema] = FoxgloveAdapter(schema, ontology, columns, dropped)


# --- shared pieces ---------------------------------------------------------------------------


def _time(stamps: Sequence[Any]) -> pa.StructArray:
    """protobuf `google.protobuf.Timestamp` (seconds, nanos) or JSON `{sec, nsec}` → Time."""
    is_json = bool(stamps) and isinstance(stamps[0], JsonView)
    seconds, nanos = ("sec", "nsec") if is_json else ("seconds", "nanos")
    return struct_of(
        Time.ARROW_TYPE,
        len(stamps),
        {"seconds": attr(stamps, seconds, I32), "nanoseconds": attr(stamps, nanos, U32)},
    )


def _header(ms: Sequence[Any], frame: str | None = "frame_id") -> pa.StructArray:
    """Header from each message's `timestamp` and its frame field (none: null frames)."""
    cols = {"timestamp": _time([m.timestamp for m in ms])}
    if frame is not None:
        cols["frame_id"] = attr(ms, frame, pa.string())
    return struct_of(Header.ARROW_TYPE, len(ms), cols)


def _xyz(objs: Sequence[Any], comps: str = "xyz") -> pa.StructArray:
    """Vector-like messages as a struct of float64 components: the layout `parts` reads
    (that of the ROS messages, see `ros.generic.ros_rows`)."""
    return pa.StructArray.from_arrays([attr(objs, c, F64) for c in comps], names=list(comps))


def _poses(poses: Sequence[Any]) -> pa.StructArray:
    """Pose messages as a struct of `position` and `orientation`, as `parts` reads them."""
    position = _xyz([p.position for p in poses])
    orientation = _xyz([p.orientation for p in poses], "xyzw")
    return pa.StructArray.from_arrays([position, orientation], names=["position", "orientation"])


def _present(ms: Sequence[Any], name: str) -> np.ndarray:
    return np.array([m.HasField(name) for m in ms], dtype=bool)


# --- the adapters ----------------------------------------------------------------------------


def _location_fix(ms: Sequence[Any]) -> dict[str, pa.Array]:
    n = len(ms)
    position = struct_of(
        Point3d.ARROW_TYPE,
        n,
        {
            "x": attr(ms, "latitude", F64),
            "y": attr(ms, "longitude", F64),
            "z": attr(ms, "altitude", F64),
            "covariance": list_of([m.position_covariance for m in ms], F64),
            "covariance_type": attr(ms, "position_covariance_type", pa.int16()),
        },
    )
    has = _present(ms, "velocity")
    # An absent velocity is a null row; its children hold zeros (Parquet placeholders).
    east_north_up = parts.vec_cols(_xyz([m.velocity if h else _ZERO for m, h in zip(ms, has)]))
    velocity = _masked(
        Vector3d.ARROW_TYPE,
        has,  # mosaico's GPS velocity is (north, east, up)
        {"x": east_north_up["y"], "y": east_north_up["x"], "z": east_north_up["z"]},
    )
    return {"header": _header(ms), "position": position, "velocity": velocity}


_ZERO = SimpleNamespace(x=0.0, y=0.0, z=0.0)


def _masked(t: pa.StructType, present: np.ndarray, cols: dict[str, pa.Array]) -> pa.Array:
    """A struct column of `cols`, null in the rows not `present`."""
    full = struct_of(t, len(present), cols)
    if present.all():
        return full
    children = [full.field(i) for i in range(t.num_fields)]
    return pa.StructArray.from_arrays(children, fields=list(t), mask=pa.array(~present))


_register("LocationFix", GPS, _location_fix, ("heading", "color", "metadata"))


def _compressed(ms: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": _header(ms),
        "data": binary([m.data for m in ms]),
        "format": pa.array([image_format(m.format) for m in ms], pa.string()),
    }


_register("CompressedImage", CompressedImage, _compressed)
_register("CompressedVideo", CompressedImage, _compressed)


def _raw_image(ms: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": _header(ms),
        "data": binary([m.data for m in ms]),
        "format": pa.array(["raw"] * len(ms), pa.string()),
        "width": attr(ms, "width", I32),
        "height": attr(ms, "height", I32),
        "stride": attr(ms, "step", I32),
        "encoding": attr(ms, "encoding", pa.string()),
        "is_bigendian": pa.array([False] * len(ms), pa.bool_()),  # Foxglove: little-endian
    }


_register("RawImage", Image, _raw_image)


def _transform_cols(ts: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": _header(ts, "parent_frame_id"),
        "translation": parts.vec(_xyz([t.translation for t in ts])),
        "rotation": parts.quat(_xyz([t.rotation for t in ts], "xyzw")),
        "target_frame_id": attr(ts, "child_frame_id", pa.string()),
    }


_register("FrameTransform", Transform, _transform_cols)


def _frame_transforms(ms: Sequence[Any]) -> dict[str, pa.Array]:
    per_msg = [m.transforms for m in ms]
    flat = [t for ts in per_msg for t in ts]
    items = struct_of(Transform.ARROW_TYPE, len(flat), _transform_cols(flat))
    return {"transforms": list_of_structs(per_msg, items)}


_register("FrameTransforms", FrameTransform, _frame_transforms)

_register(
    "PoseInFrame",
    Pose,
    lambda ms: {"header": _header(ms), **parts.pose_cols(_poses([m.pose for m in ms]))},
)


def _poses_in_frame(ms: Sequence[Any]) -> dict[str, pa.Array]:
    per_msg = [m.poses for m in ms]
    poses = parts.pose(_poses([p for ps in per_msg for p in ps]))
    return {"header": _header(ms), "poses": list_of_structs(per_msg, poses)}


_register("PosesInFrame", RobotPath, _poses_in_frame)

# foxglove.PackedElementField.NumericType → PointFieldDatatype (ROS numbering).
_NUMERIC = {1: 2, 2: 1, 3: 4, 4: 3, 5: 6, 6: 5, 7: 7, 8: 8}


def _datatype(code: int) -> int:
    if code not in _NUMERIC:
        raise RosBridgeError(f"point field type {code} is not a known numeric type")
    return _NUMERIC[code]


def _point_cloud(ms: Sequence[Any]) -> dict[str, pa.Array]:
    per_msg = [m.fields for m in ms]
    flat = [f for fs in per_msg for f in fs]
    fields = struct_of(
        PointField.ARROW_TYPE,
        len(flat),
        {
            "name": attr(flat, "name", pa.string()),
            "offset": attr(flat, "offset", U32),
            "datatype": pa.array([_datatype(f.type) for f in flat], pa.int64()),
            "count": pa.array(np.ones(len(flat), np.uint32)),
        },
    )
    sizes = np.array([len(m.data) for m in ms], dtype=np.int64)
    steps = np.array([m.point_stride for m in ms], dtype=np.int64)
    width = np.where(steps > 0, sizes // np.maximum(steps, 1), 0)
    n = len(ms)
    return {
        "header": _header(ms),
        "height": pa.array(np.ones(n, np.uint32)),
        "width": pa.array(width.astype(np.uint32)),
        "fields": list_of_structs(per_msg, fields),
        "is_bigendian": pa.array(np.zeros(n, bool)),
        "point_step": pa.array(steps.astype(np.uint32)),
        "row_step": pa.array(sizes.astype(np.uint32)),
        "data": binary([m.data for m in ms]),
        "is_dense": pa.array(np.zeros(n, bool)),
    }


_register("PointCloud", PointCloud2, _point_cloud, ("pose",))


def _laser_scan(ms: Sequence[Any]) -> dict[str, pa.Array]:
    n = len(ms)
    start = np.array([m.start_angle for m in ms], dtype=np.float64)
    end = np.array([m.end_angle for m in ms], dtype=np.float64)
    beams = np.array([len(m.ranges) for m in ms], dtype=np.float64)
    step = np.divide(end - start, beams - 1, out=np.zeros(n), where=beams > 1)
    zeros = pa.array(np.zeros(n, np.float32))
    return {
        "header": _header(ms),
        "angle_min": pa.array(start.astype(np.float32)),
        "angle_max": pa.array(end.astype(np.float32)),
        "angle_increment": pa.array(step.astype(np.float32)),
        "time_increment": zeros,
        "scan_time": zeros,
        "range_min": zeros,
        "range_max": pa.array(np.full(n, np.inf, np.float32)),
        "ranges": list_of([m.ranges for m in ms], F32),
        "intensities": list_of([m.intensities for m in ms], F32),
    }


_register("LaserScan", LaserScan, _laser_scan, ("pose",))


def _odometry(ms: Sequence[Any]) -> dict[str, pa.Array]:
    n = len(ms)
    velocity = struct_of(
        Velocity.ARROW_TYPE,
        n,
        {
            "linear": parts.vec(_xyz([m.linear_velocity for m in ms])),
            "angular": parts.vec(_xyz([m.angular_velocity for m in ms])),
            "covariance": list_of([m.velocity_covariance for m in ms], F64),
        },
    )
    return {
        "header": _header(ms),
        "pose": parts.pose(
            _poses([m.pose for m in ms]), cov=list_of([m.pose_covariance for m in ms], F64)
        ),
        "velocity": velocity,
        "target_frame_id": attr(ms, "body_frame_id", pa.string()),
    }


_register("Odometry", MotionState, _odometry, ("metadata",))


def _joint_states(ms: Sequence[Any]) -> dict[str, pa.Array]:
    joints = [m.joints for m in ms]

    def each(name: str, t: pa.DataType) -> pa.ListArray:
        return list_of([[getattr(j, name) for j in js] for js in joints], t)

    return {
        "header": _header(ms, None),
        "names": each("name", pa.string()),
        "positions": each("position", F64),
        "velocities": each("velocity", F64),
        "efforts": each("effort", F64),
    }


_register("JointStates", RobotJoint, _joint_states, ("acceleration",))


def _camera_calibration(ms: Sequence[Any]) -> dict[str, pa.Array]:
    t = CameraInfo.ARROW_TYPE
    return {
        "header": _header(ms),
        "height": attr(ms, "height", U32),
        "width": attr(ms, "width", U32),
        "distortion_model": attr(ms, "distortion_model", pa.string()),
        "distortion_parameters": list_of([m.D for m in ms], F64),
        "intrinsic_parameters": fixed_list([m.K for m in ms], t.field("intrinsic_parameters").type),
        "rectification_parameters": fixed_list(
            [m.R for m in ms], t.field("rectification_parameters").type
        ),
        "projection_parameters": fixed_list(
            [m.P for m in ms], t.field("projection_parameters").type
        ),
    }


_register("CameraCalibration", CameraInfo, _camera_calibration)
