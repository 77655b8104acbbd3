"""nav_msgs (Odometry, Path) and tf2_msgs (TFMessage) adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row, register
from mosaico.bridges.ros.arrow import attr, list_of_structs, struct
from mosaico.types import FrameTransform, MotionState, RobotPath, Transform


def _odometry(ms: Sequence[Any]) -> dict[str, pa.Array]:
    poses, twists = [m.pose for m in ms], [m.twist for m in ms]
    return {
        "header": parts.headers_of(ms),
        "pose": parts.pose([p.pose for p in poses], cov=[p.covariance for p in poses]),
        "velocity": parts.velocity([t.twist for t in twists], cov=[t.covariance for t in twists]),
        "target_frame_id": attr(ms, "child_frame_id", pa.string()),
    }


def _odometry_ros(r: Row) -> Row:
    pose, velocity = r["pose"], r["velocity"]
    return {
        "header": parts.header_ros(r["header"]),
        "child_frame_id": r["target_frame_id"],
        "pose": {"pose": parts.pose_ros(pose), "covariance": pose["covariance"]},
        "twist": {"twist": parts.twist_ros(velocity), "covariance": velocity["covariance"]},
    }


register("nav_msgs/msg/Odometry", MotionState, _odometry, _odometry_ros)


def _path(ms: Sequence[Any]) -> dict[str, pa.Array]:
    per_msg = [m.poses for m in ms]
    flat = [p for ps in per_msg for p in ps]
    poses = parts.pose([p.pose for p in flat], hdr=parts.headers_of(flat))
    return {"header": parts.headers_of(ms), "poses": list_of_structs(per_msg, poses)}


def _path_ros(r: Row) -> Row:
    return {
        "header": parts.header_ros(r["header"]),
        "poses": [
            {"header": parts.header_ros(p["header"]), "pose": parts.pose_ros(p)} for p in r["poses"]
        ],
    }


register("nav_msgs/msg/Path", RobotPath, _path, _path_ros)


def _tf(ms: Sequence[Any]) -> dict[str, pa.Array]:
    per_msg = [m.transforms for m in ms]
    flat = [t for ts in per_msg for t in ts]
    transforms = struct(Transform.ARROW_TYPE, len(flat), parts.stamped_transform_cols(flat))
    return {"transforms": list_of_structs(per_msg, transforms)}


def _tf_ros(r: Row) -> Row:
    return {"transforms": [parts.stamped_transform_ros(t) for t in r["transforms"]]}


register("tf2_msgs/msg/TFMessage", FrameTransform, _tf, _tf_ros)
