"""nav_msgs (Odometry, Path) and tf2_msgs (TFMessage) adapters."""

from __future__ import annotations

import pyarrow as pa

from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row, register
from mosaico.bridges.ros.arrow import field, relist, struct
from mosaico.types import FrameTransform, MotionState, RobotPath, Transform


def _odometry(ms: pa.StructArray) -> dict[str, pa.Array]:
    poses, twists = ms.field("pose"), ms.field("twist")
    return {
        "header": parts.headers_of(ms),
        "pose": parts.pose(poses.field("pose"), cov=poses.field("covariance")),
        "velocity": parts.velocity(twists.field("twist"), cov=twists.field("covariance")),
        "target_frame_id": field(ms, "child_frame_id", pa.string()),
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


def _path(ms: pa.StructArray) -> dict[str, pa.Array]:
    per_msg = ms.field("poses")
    flat = per_msg.flatten()
    poses = parts.pose(flat.field("pose"), hdr=parts.headers_of(flat))
    return {"header": parts.headers_of(ms), "poses": relist(per_msg, poses)}


def _path_ros(r: Row) -> Row:
    return {
        "header": parts.header_ros(r["header"]),
        "poses": [
            {"header": parts.header_ros(p["header"]), "pose": parts.pose_ros(p)} for p in r["poses"]
        ],
    }


register("nav_msgs/msg/Path", RobotPath, _path, _path_ros)


def _tf(ms: pa.StructArray) -> dict[str, pa.Array]:
    per_msg = ms.field("transforms")
    flat = per_msg.flatten()
    transforms = struct(Transform.ARROW_TYPE, len(flat), parts.stamped_transform_cols(flat))
    return {"transforms": relist(per_msg, transforms)}


def _tf_ros(r: Row) -> Row:
    return {"transforms": [parts.stamped_transform_ros(t) for t in r["transforms"]]}


register("tf2_msgs/msg/TFMessage", FrameTransform, _tf, _tf_ros)
