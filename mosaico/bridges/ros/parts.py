"""Shared pieces of the standard adapters, both directions.

`*_cols` / struct builders turn struct arrays of ROS sub-messages (the generic layout,
see `generic.ros_rows`) into Arrow columns of mosaico types;
`*_ros` functions turn one Arrow row (a dict, as from `to_pylist`) back into the ROS
field dict that `RosFactory.build` understands.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from mosaico.bridges.ros.arrow import as_list, field, struct
from mosaico.types import (
    Header,
    Point3d,
    Pose,
    Quaternion,
    Time,
    Vector3d,
    Velocity,
)

Row = dict[str, Any]
F64 = pa.float64()


def time(stamps: pa.StructArray) -> pa.StructArray:
    """ROS time (sec, nanosec) → Time; int32 seconds overflow fails loudly in Arrow."""
    return struct(
        Time.ARROW_TYPE,
        len(stamps),
        {
            "seconds": field(stamps, "sec", pa.int32()),
            "nanoseconds": field(stamps, "nanosec", pa.uint32()),
        },
    )


def time_ros(row: Row | None) -> Row:
    """Time row → ROS time dict (`sec`, `nanosec`); None or missing parts are zero."""
    row = row or {}
    return {"sec": row.get("seconds", 0), "nanosec": row.get("nanoseconds", 0)}


def header(headers: pa.StructArray) -> pa.StructArray:
    """std_msgs/Header → Header; the ROS 1 `seq` becomes `sample_counter`."""
    cols = {
        "timestamp": time(headers.field("stamp")),
        "frame_id": field(headers, "frame_id", pa.string()),
    }
    if "seq" in headers.type.names:
        cols["sample_counter"] = field(headers, "seq", pa.uint64())
    return struct(Header.ARROW_TYPE, len(headers), cols)


def header_ros(row: Row | None) -> Row:
    """Header row → std_msgs/Header dict; `sample_counter` goes back to `seq` when set.

    None gives `{}`: `RosFactory.build` fills the ROS defaults.
    """
    if row is None:
        return {}
    out = {"stamp": time_ros(row["timestamp"]), "frame_id": row["frame_id"] or ""}
    if row["sample_counter"] is not None:
        out["seq"] = row["sample_counter"]
    return out


def headers_of(msgs: pa.StructArray) -> pa.StructArray:
    """The Header column of stamped messages (their `header` field)."""
    return header(msgs.field("header"))


def stamped_ros(row: Row, *same: str, **renamed: str) -> Row:
    """The ROS field dict of a stamped message whose other fields are copied from `row`:
    `same` under their own names, `renamed` as ROS name = mosaico name."""
    out = {"header": header_ros(row["header"])}
    out.update({name: row[name] for name in same})
    out.update({ros: row[ours] for ros, ours in renamed.items()})
    return out


def covariance(arrays: pa.Array) -> pa.ListArray:
    """Per-message covariance arrays (row-major, 9 or 36 values) → `list<float64>`."""
    return as_list(arrays, F64)


def vec_cols(objs: pa.StructArray, comps: str = "xyz") -> dict[str, pa.Array]:
    """One float64 column per component in `comps` (`xyz`, `xyzw` for quaternions)."""
    return {c: field(objs, c, F64) for c in comps}


def vec(
    objs: pa.StructArray,
    t: pa.StructType = Vector3d.ARROW_TYPE,
    cov: pa.Array | None = None,
    cov_type: pa.Array | None = None,
) -> pa.StructArray:
    """Vector3 / Point → Vector3d / Point3d; Quaternion → Quaternion (pass its type)."""
    comps = "".join(f.name for f in t if f.name in "xyzw")
    cols = vec_cols(objs, comps)
    if cov is not None:
        cols["covariance"] = covariance(cov)
    if cov_type is not None:
        cols["covariance_type"] = cov_type
    return struct(t, len(objs), cols)


def quat(objs: pa.StructArray, cov: pa.Array | None = None) -> pa.StructArray:
    """geometry_msgs/Quaternion → Quaternion, with the covariance when given."""
    return vec(objs, Quaternion.ARROW_TYPE, cov)


def vec_ros(row: Row, comps: str = "xyz") -> Row:
    """Vector3d / Point3d row → ROS Vector3 / Point dict (`comps` only, no covariance)."""
    return {c: row[c] for c in comps}


def quat_ros(row: Row) -> Row:
    """Quaternion row → geometry_msgs/Quaternion dict."""
    return vec_ros(row, "xyzw")


def pose_cols(poses: pa.StructArray) -> dict[str, pa.Array]:
    """geometry_msgs/Pose → the `position` and `orientation` columns of Pose."""
    return {
        "position": vec(poses.field("position"), Point3d.ARROW_TYPE),
        "orientation": quat(poses.field("orientation")),
    }


def pose(
    poses: pa.StructArray, hdr: pa.Array | None = None, cov: pa.Array | None = None
) -> pa.StructArray:
    """geometry_msgs/Pose → Pose, with a Header column (`hdr`: the headers of a Path's
    PoseStamped items) and the 6x6 covariance when given."""
    cols = pose_cols(poses)
    if hdr is not None:
        cols["header"] = hdr
    if cov is not None:
        cols["covariance"] = covariance(cov)
    return struct(Pose.ARROW_TYPE, len(poses), cols)


def pose_ros(row: Row) -> Row:
    """Pose row → geometry_msgs/Pose dict (header and covariance are the caller's)."""
    return {"position": vec_ros(row["position"]), "orientation": quat_ros(row["orientation"])}


def transform_cols(tfs: pa.StructArray) -> dict[str, pa.Array]:
    """geometry_msgs/Transform → the `translation` and `rotation` columns of Transform."""
    return {"translation": vec(tfs.field("translation")), "rotation": quat(tfs.field("rotation"))}


def transform_ros(row: Row) -> Row:
    """Transform row → geometry_msgs/Transform dict."""
    return {"translation": vec_ros(row["translation"]), "rotation": quat_ros(row["rotation"])}


def stamped_transform_cols(tfs: pa.StructArray) -> dict[str, pa.Array]:
    """geometry_msgs/TransformStamped → Transform columns, with header and child frame."""
    cols = transform_cols(tfs.field("transform"))
    cols["header"] = headers_of(tfs)
    cols["target_frame_id"] = field(tfs, "child_frame_id", pa.string())
    return cols


def stamped_transform_ros(row: Row) -> Row:
    """Transform row → geometry_msgs/TransformStamped dict; `target_frame_id` goes back
    to `child_frame_id` (empty when null)."""
    return {
        "header": header_ros(row["header"]),
        "child_frame_id": row["target_frame_id"] or "",
        "transform": transform_ros(row),
    }


def pair_cols(objs: pa.StructArray, a: str, b: str, names: tuple[str, str]) -> dict[str, pa.Array]:
    """Two Vector3 members (twist linear/angular, wrench force/torque) → two Vector3d."""
    return {names[0]: vec(objs.field(a)), names[1]: vec(objs.field(b))}


def twist_cols(objs: pa.StructArray) -> dict[str, pa.Array]:
    """geometry_msgs/Twist or Accel → the `linear` and `angular` columns."""
    return pair_cols(objs, "linear", "angular", ("linear", "angular"))


def twist_ros(row: Row) -> Row:
    """Velocity / Acceleration row → geometry_msgs/Twist or Accel dict."""
    return {"linear": vec_ros(row["linear"]), "angular": vec_ros(row["angular"])}


def wrench_cols(objs: pa.StructArray) -> dict[str, pa.Array]:
    """geometry_msgs/Wrench → the `force` and `torque` columns of ForceTorque."""
    return pair_cols(objs, "force", "torque", ("force", "torque"))


def wrench_ros(row: Row) -> Row:
    """ForceTorque row → geometry_msgs/Wrench dict."""
    return {"force": vec_ros(row["force"]), "torque": vec_ros(row["torque"])}


def velocity(objs: pa.StructArray, cov: pa.Array | None = None) -> pa.StructArray:
    """geometry_msgs/Twist → Velocity, with the 6x6 covariance when given."""
    cols = twist_cols(objs)
    if cov is not None:
        cols["covariance"] = covariance(cov)
    return struct(Velocity.ARROW_TYPE, len(objs), cols)
