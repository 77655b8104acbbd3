"""geometry_msgs adapters, each in its plain, Stamped and WithCovariance variants."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row, register
from mosaico.types import (
    Acceleration,
    ForceTorque,
    Point3d,
    Pose,
    Quaternion,
    Transform,
    Vector3d,
    Velocity,
)

Columns = Callable[[pa.StructArray], dict[str, pa.Array]]
ToRos = Callable[[Row], Row]


def _family(
    base: str, ontology: type, member: str, cols: Columns, to_ros: ToRos, with_covariance: bool
) -> None:
    """Registers Base, BaseStamped and, if ROS has them, BaseWithCovariance(Stamped).

    `member` is the field holding the base message inside the Stamped/WithCovariance ones.
    """
    prefix = "geometry_msgs/msg/"

    def stamped(msgs: pa.StructArray) -> dict[str, pa.Array]:
        return {"header": parts.headers_of(msgs), **cols(msgs.field(member))}

    register(prefix + base, ontology, cols, to_ros)
    register(
        f"{prefix}{base}Stamped",
        ontology,
        stamped,
        lambda r: {"header": parts.header_ros(r["header"]), member: to_ros(r)},
    )
    if not with_covariance:
        return

    def with_cov(msgs: pa.StructArray) -> dict[str, pa.Array]:
        return {
            "covariance": parts.covariance(msgs.field("covariance")),
            **cols(msgs.field(member)),
        }

    def with_cov_ros(r: Row) -> Row:
        return {member: to_ros(r), "covariance": r["covariance"]}

    register(f"{prefix}{base}WithCovariance", ontology, with_cov, with_cov_ros)
    register(
        f"{prefix}{base}WithCovarianceStamped",
        ontology,
        lambda ms: {"header": parts.headers_of(ms), **with_cov(ms.field(member))},
        lambda r: {"header": parts.header_ros(r["header"]), member: with_cov_ros(r)},
    )


_family("Point", Point3d, "point", parts.vec_cols, parts.vec_ros, False)
_family("Vector3", Vector3d, "vector", parts.vec_cols, parts.vec_ros, False)
_family(
    "Quaternion",
    Quaternion,
    "quaternion",
    lambda ms: parts.vec_cols(ms, "xyzw"),
    parts.quat_ros,
    False,
)
_family("Pose", Pose, "pose", parts.pose_cols, parts.pose_ros, True)
_family("Twist", Velocity, "twist", parts.twist_cols, parts.twist_ros, True)
_family("Accel", Acceleration, "accel", parts.twist_cols, parts.twist_ros, True)
_family("Wrench", ForceTorque, "wrench", parts.wrench_cols, parts.wrench_ros, False)

register("geometry_msgs/msg/Transform", Transform, parts.transform_cols, parts.transform_ros)


register(
    "geometry_msgs/msg/TransformStamped",
    Transform,
    parts.stamped_transform_cols,
    parts.stamped_transform_ros,
)
