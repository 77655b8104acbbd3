"""sensor_msgs adapters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row, register
from mosaico.bridges.ros.arrow import attr, binary, fixed_list, list_of, list_of_structs, struct
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.types import (
    GPS,
    IMU,
    ROI,
    BatteryState,
    CameraInfo,
    CompressedImage,
    GPSStatus,
    Image,
    Joy,
    LaserScan,
    Magnetometer,
    Point3d,
    PointCloud2,
    PointField,
    Pressure,
    Range,
    RobotJoint,
    Temperature,
    Vector2d,
)

P = "sensor_msgs/msg/"
F32, F64, U8, U32, I32 = pa.float32(), pa.float64(), pa.uint8(), pa.uint32(), pa.int32()
# An IMU without orientation estimate, in the ROS convention (orientation_covariance[0] = -1).
_NO_ORIENTATION = [-1.0] + [0.0] * 8


def _named(objs: Sequence[Any], *names: str) -> list[Any]:
    """The first of `names` the messages have (ROS 1 `K` vs ROS 2 `k` and the like)."""
    name = next(n for n in names if hasattr(objs[0], n)) if objs else names[0]
    return [getattr(o, name) for o in objs]


def _imu(ms: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "acceleration": parts.vec(
            [m.linear_acceleration for m in ms], cov=[m.linear_acceleration_covariance for m in ms]
        ),
        "angular_velocity": parts.vec(
            [m.angular_velocity for m in ms], cov=[m.angular_velocity_covariance for m in ms]
        ),
        "orientation": parts.quat(
            [m.orientation for m in ms], cov=[m.orientation_covariance for m in ms]
        ),
    }


def _imu_ros(r: Row) -> Row:
    acc, gyro, ori = r["acceleration"], r["angular_velocity"], r["orientation"]
    return {
        "header": parts.header_ros(r["header"]),
        "orientation": parts.quat_ros(ori) if ori else {},
        "orientation_covariance": ori["covariance"] if ori else _NO_ORIENTATION,
        "angular_velocity": parts.vec_ros(gyro),
        "angular_velocity_covariance": gyro["covariance"],
        "linear_acceleration": parts.vec_ros(acc),
        "linear_acceleration_covariance": acc["covariance"],
    }


register(P + "Imu", IMU, _imu, _imu_ros)


def _gps(ms: Sequence[Any]) -> dict[str, pa.Array]:
    n = len(ms)
    position = struct(
        Point3d.ARROW_TYPE,
        n,
        {
            "x": attr(ms, "latitude", F64),
            "y": attr(ms, "longitude", F64),
            "z": attr(ms, "altitude", F64),
            "covariance": parts.covariance([m.position_covariance for m in ms]),
            "covariance_type": attr(ms, "position_covariance_type", pa.int16()),
        },
    )
    statuses = [m.status for m in ms]
    status = struct(
        GPSStatus.ARROW_TYPE,
        n,
        {
            "status": attr(statuses, "status", pa.int8()),
            "service": attr(statuses, "service", pa.uint16()),
        },
    )
    return {"header": parts.headers_of(ms), "position": position, "status": status}


def _gps_ros(r: Row) -> Row:
    pos, status = r["position"], r["status"] or {}
    return {
        "header": parts.header_ros(r["header"]),
        "status": {"status": status.get("status", 0), "service": status.get("service", 0)},
        "latitude": pos["x"],
        "longitude": pos["y"],
        "altitude": pos["z"],
        "position_covariance": pos["covariance"],
        "position_covariance_type": pos["covariance_type"] or 0,
    }


register(P + "NavSatFix", GPS, _gps, _gps_ros)


def _image(ms: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "data": binary([m.data for m in ms]),
        "format": pa.array(["raw"] * len(ms), pa.string()),
        "width": attr(ms, "width", I32),
        "height": attr(ms, "height", I32),
        "stride": attr(ms, "step", I32),
        "encoding": attr(ms, "encoding", pa.string()),
        "is_bigendian": pa.array([bool(m.is_bigendian) for m in ms], pa.bool_()),
    }


def _image_ros(r: Row) -> Row:
    if r["format"] != "raw":
        raise RosBridgeError(f"only raw images export to sensor_msgs/Image, not {r['format']!r}")
    return {
        "header": parts.header_ros(r["header"]),
        "height": r["height"],
        "width": r["width"],
        "encoding": r["encoding"],
        "is_bigendian": int(bool(r["is_bigendian"])),
        "step": r["stride"],
        "data": r["data"],
    }


def _keep_endianness(m: Any) -> Row:
    # mosaico holds a bool; ROS holds a uint8 that is not always 0 or 1.
    return {} if m.is_bigendian in (0, 1) else {"is_bigendian": int(m.is_bigendian)}


def _restore_endianness(out: Row, originals: Row) -> None:
    if out["is_bigendian"] == 1:
        out["is_bigendian"] = originals["is_bigendian"]


register(P + "Image", Image, _image, _image_ros, _keep_endianness, _restore_endianness)

# ROS CompressedImage.format is free text ("jpeg", "png", "rgb8; jpeg compressed bgr8");
# mosaico stores the codec as an ImageFormat value.
_CODECS = (("png", "png"), ("jpeg", "jpeg"), ("jpg", "jpg"), ("tif", "tiff"), ("h264", "h264"),
           ("hevc", "hevc"), ("h265", "hevc"))  # fmt: skip


def image_format(ros_format: str) -> str:
    """The mosaico `ImageFormat` value named in a free-text ROS format, first match wins.

    Raises:
        RosBridgeError: no known codec is named (e.g. `"bmp"`).

    >>> image_format("rgb8; jpeg compressed bgr8")
    'jpeg'
    """
    text = ros_format.lower()
    for needle, codec in _CODECS:
        if needle in text:
            return codec
    raise RosBridgeError(f"compressed image format {ros_format!r} is not a mosaico ImageFormat")


def _compressed(ms: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "data": binary([m.data for m in ms]),
        "format": pa.array([image_format(m.format) for m in ms], pa.string()),
    }


def _compressed_ros(r: Row) -> Row:
    return parts.stamped_ros(r, "format", "data")


def _keep_format(m: Any) -> Row:
    try:
        lossy = image_format(m.format) != m.format
    except ValueError:  # the topic fails to ingest anyway
        return {}
    return {"format": m.format} if lossy else {}


def _restore_format(out: Row, originals: Row) -> None:
    # Only rows of the recorded string's codec get it back: a topic mixing several strings
    # of one codec (rare) loses all but the first one.
    if out["format"] == image_format(originals["format"]):
        out["format"] = originals["format"]


register(
    P + "CompressedImage", CompressedImage, _compressed, _compressed_ros, _keep_format,
    _restore_format,
)  # fmt: skip


def _camera_info(ms: Sequence[Any]) -> dict[str, pa.Array]:
    n = len(ms)
    t = CameraInfo.ARROW_TYPE
    rois = [m.roi for m in ms]
    offset = struct(
        Vector2d.ARROW_TYPE, n, {"x": attr(rois, "x_offset", F64), "y": attr(rois, "y_offset", F64)}
    )
    roi = struct(
        ROI.ARROW_TYPE,
        n,
        {
            "offset": offset,
            "height": attr(rois, "height", U32),
            "width": attr(rois, "width", U32),
            "do_rectify": attr(rois, "do_rectify", pa.bool_()),
        },
    )
    binning = struct(
        Vector2d.ARROW_TYPE, n, {"x": attr(ms, "binning_x", F64), "y": attr(ms, "binning_y", F64)}
    )
    return {
        "header": parts.headers_of(ms),
        "height": attr(ms, "height", U32),
        "width": attr(ms, "width", U32),
        "distortion_model": attr(ms, "distortion_model", pa.string()),
        "distortion_parameters": list_of(_named(ms, "d", "D"), F64),
        "intrinsic_parameters": fixed_list(
            _named(ms, "k", "K"), t.field("intrinsic_parameters").type
        ),
        "rectification_parameters": fixed_list(
            _named(ms, "r", "R"), t.field("rectification_parameters").type
        ),
        "projection_parameters": fixed_list(
            _named(ms, "p", "P"), t.field("projection_parameters").type
        ),
        "binning": binning,
        "roi": roi,
    }


def _camera_info_ros(r: Row) -> Row:
    binning = r["binning"] or {"x": 0, "y": 0}
    roi = r["roi"]
    return {
        "header": parts.header_ros(r["header"]),
        "height": r["height"],
        "width": r["width"],
        "distortion_model": r["distortion_model"],
        "d": r["distortion_parameters"],
        "k": r["intrinsic_parameters"],
        "r": r["rectification_parameters"],
        "p": r["projection_parameters"],
        "binning_x": int(binning["x"]),
        "binning_y": int(binning["y"]),
        "roi": {
            "x_offset": int(roi["offset"]["x"]),
            "y_offset": int(roi["offset"]["y"]),
            "height": roi["height"],
            "width": roi["width"],
            "do_rectify": bool(roi["do_rectify"]),
        }
        if roi
        else {},
    }


register(P + "CameraInfo", CameraInfo, _camera_info, _camera_info_ros)


def _point_cloud(ms: Sequence[Any]) -> dict[str, pa.Array]:
    per_msg = [m.fields for m in ms]
    flat = [f for fs in per_msg for f in fs]
    fields = struct(
        PointField.ARROW_TYPE,
        len(flat),
        {
            "name": attr(flat, "name", pa.string()),
            "offset": attr(flat, "offset", U32),
            "datatype": attr(flat, "datatype", pa.int64()),
            "count": attr(flat, "count", U32),
        },
    )
    return {
        "header": parts.headers_of(ms),
        "height": attr(ms, "height", U32),
        "width": attr(ms, "width", U32),
        "fields": list_of_structs(per_msg, fields),
        "is_bigendian": pa.array([bool(m.is_bigendian) for m in ms], pa.bool_()),
        "point_step": attr(ms, "point_step", U32),
        "row_step": attr(ms, "row_step", U32),
        "data": binary([m.data for m in ms]),
        "is_dense": pa.array([bool(m.is_dense) for m in ms], pa.bool_()),
    }


def _point_cloud_ros(r: Row) -> Row:
    return parts.stamped_ros(r, "height", "width", "fields", "is_bigendian", "point_step",
                             "row_step", "data", "is_dense")  # fmt: skip


register(P + "PointCloud2", PointCloud2, _point_cloud, _point_cloud_ros)

_SCAN_SCALARS = ("angle_min", "angle_max", "angle_increment", "time_increment", "scan_time",
                 "range_min", "range_max")  # fmt: skip


def _laser_scan(ms: Sequence[Any]) -> dict[str, pa.Array]:
    cols: dict[str, pa.Array] = {name: attr(ms, name, F32) for name in _SCAN_SCALARS}
    cols["header"] = parts.headers_of(ms)
    cols["ranges"] = list_of([m.ranges for m in ms], F32)
    cols["intensities"] = list_of([m.intensities for m in ms], F32)
    return cols


def _laser_scan_ros(r: Row) -> Row:
    out = {name: r[name] for name in _SCAN_SCALARS}
    out.update(header=parts.header_ros(r["header"]), ranges=r["ranges"],
               intensities=r["intensities"] or [])  # fmt: skip
    return out


register(P + "LaserScan", LaserScan, _laser_scan, _laser_scan_ros)


def _joints(ms: Sequence[Any]) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "names": list_of([m.name for m in ms], pa.string()),
        "positions": list_of([m.position for m in ms], F64),
        "velocities": list_of([m.velocity for m in ms], F64),
        "efforts": list_of([m.effort for m in ms], F64),
    }


def _joints_ros(r: Row) -> Row:
    return parts.stamped_ros(r, name="names", position="positions", velocity="velocities",
                             effort="efforts")  # fmt: skip


register(P + "JointState", RobotJoint, _joints, _joints_ros)

# Units are copied from the source unchanged (tesla, °C), as the reference bridge does; the
# ROS type in the topic metadata says which convention the values follow.
register(
    P + "MagneticField",
    Magnetometer,
    lambda ms: {
        "header": parts.headers_of(ms),
        "magnetic_field": parts.vec(
            [m.magnetic_field for m in ms], cov=[m.magnetic_field_covariance for m in ms]
        ),
    },
    lambda r: {
        "header": parts.header_ros(r["header"]),
        "magnetic_field": parts.vec_ros(r["magnetic_field"]),
        "magnetic_field_covariance": r["magnetic_field"]["covariance"],
    },
)


def _scalar_register(ros_name: str, ontology: type, value: str) -> None:
    """Temperature / FluidPressure: one value and its variance."""
    register(
        P + ros_name,
        ontology,
        lambda ms: {
            "header": parts.headers_of(ms),
            "value": attr(ms, value, F64),
            "variance": attr(ms, "variance", F64),
        },
        lambda r: {
            "header": parts.header_ros(r["header"]),
            value: r["value"],
            "variance": r["variance"] or 0.0,
        },
    )


_scalar_register("Temperature", Temperature, "temperature")
_scalar_register("FluidPressure", Pressure, "fluid_pressure")

_RANGE_SCALARS = ("field_of_view", "min_range", "max_range", "range")


def _range(ms: Sequence[Any]) -> dict[str, pa.Array]:
    cols: dict[str, pa.Array] = {name: attr(ms, name, F32) for name in _RANGE_SCALARS}
    cols["header"] = parts.headers_of(ms)
    cols["radiation_type"] = attr(ms, "radiation_type", U8)
    if ms and hasattr(ms[0], "variance"):  # ROS 2 Iron and later
        cols["variance"] = attr(ms, "variance", F64)
    return cols


def _range_ros(r: Row) -> Row:
    out = {name: r[name] for name in _RANGE_SCALARS}
    out.update(header=parts.header_ros(r["header"]), radiation_type=r["radiation_type"])
    if r["variance"] is not None:
        out["variance"] = r["variance"]
    return out


register(P + "Range", Range, _range, _range_ros)

register(
    P + "Joy",
    Joy,
    lambda ms: {
        "header": parts.headers_of(ms),
        "axes": list_of([m.axes for m in ms], F32),
        "buttons": list_of([m.buttons for m in ms], I32),
    },
    lambda r: parts.stamped_ros(r, "axes", "buttons"),
)

_BATTERY_F32 = ("voltage", "temperature", "current", "charge", "capacity", "design_capacity",
                "percentage")  # fmt: skip
_BATTERY_U8 = ("power_supply_status", "power_supply_health", "power_supply_technology")


def _battery(ms: Sequence[Any]) -> dict[str, pa.Array]:
    present = [n for n in _BATTERY_F32 if not ms or hasattr(ms[0], n)]
    cols: dict[str, pa.Array] = {name: attr(ms, name, F32) for name in present}
    cols.update({name: attr(ms, name, U8) for name in _BATTERY_U8})
    cols.update(
        header=parts.headers_of(ms),
        present=pa.array([bool(m.present) for m in ms], pa.bool_()),
        location=attr(ms, "location", pa.string()),
        serial_number=attr(ms, "serial_number", pa.string()),
        cell_voltage=list_of([m.cell_voltage for m in ms], F32),
        cell_temperature=list_of(
            [getattr(m, "cell_temperature", np.zeros(0, np.float32)) for m in ms], F32
        ),
    )
    return cols


def _battery_ros(r: Row) -> Row:
    out = {name: r[name] for name in (*_BATTERY_F32, *_BATTERY_U8, "present", "location",
                                      "serial_number")}  # fmt: skip
    out.update(
        header=parts.header_ros(r["header"]),
        cell_voltage=r["cell_voltage"] or [],
        cell_temperature=r["cell_temperature"] or [],
    )
    return out


register(P + "BatteryState", BatteryState, _battery, _battery_ros)
