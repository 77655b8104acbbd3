"""sensor_msgs adapters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.bridges.ros import parts
from mosaico.bridges.ros.adapter import Row, register
from mosaico.bridges.ros.arrow import as_list, field, relist, repeat_string, struct
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


def _named(rows: pa.StructArray, *names: str) -> pa.Array:
    """The first of `names` the messages have (ROS 1 `K` vs ROS 2 `k` and the like)."""
    return rows.field(next((n for n in names if n in rows.type.names), names[0]))


def _imu(ms: pa.StructArray) -> dict[str, pa.Array]:
    f = ms.field
    return {
        "header": parts.headers_of(ms),
        "acceleration": parts.vec(
            f("linear_acceleration"), cov=f("linear_acceleration_covariance")
        ),
        "angular_velocity": parts.vec(f("angular_velocity"), cov=f("angular_velocity_covariance")),
        "orientation": parts.quat(f("orientation"), cov=f("orientation_covariance")),
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


def _gps(ms: pa.StructArray) -> dict[str, pa.Array]:
    n = len(ms)
    position = struct(
        Point3d.ARROW_TYPE,
        n,
        {
            "x": field(ms, "latitude", F64),
            "y": field(ms, "longitude", F64),
            "z": field(ms, "altitude", F64),
            "covariance": parts.covariance(ms.field("position_covariance")),
            "covariance_type": field(ms, "position_covariance_type", pa.int16()),
        },
    )
    statuses = ms.field("status")
    status = struct(
        GPSStatus.ARROW_TYPE,
        n,
        {
            "status": field(statuses, "status", pa.int8()),
            "service": field(statuses, "service", pa.uint16()),
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


def _image(ms: pa.StructArray) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "data": field(ms, "data", pa.binary()),
        "format": repeat_string("raw", len(ms)),
        "width": field(ms, "width", I32),
        "height": field(ms, "height", I32),
        "stride": field(ms, "step", I32),
        "encoding": field(ms, "encoding", pa.string()),
        "is_bigendian": field(ms, "is_bigendian", pa.bool_()),
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


def _formats(ros_formats: pa.Array) -> pa.Array:
    """`image_format` of every message, computed once per distinct format string."""
    formats = ros_formats.cast(pa.string())
    distinct = pc.unique(formats)
    codecs = pa.array([image_format(f) for f in distinct.to_pylist()], pa.string())
    return codecs.take(pc.index_in(formats, value_set=distinct))


def _compressed(ms: pa.StructArray) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "data": field(ms, "data", pa.binary()),
        "format": _formats(ms.field("format")),
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


def _camera_info(ms: pa.StructArray) -> dict[str, pa.Array]:
    n = len(ms)
    t = CameraInfo.ARROW_TYPE
    rois = ms.field("roi")
    offset = struct(
        Vector2d.ARROW_TYPE,
        n,
        {"x": field(rois, "x_offset", F64), "y": field(rois, "y_offset", F64)},
    )
    roi = struct(
        ROI.ARROW_TYPE,
        n,
        {
            "offset": offset,
            "height": field(rois, "height", U32),
            "width": field(rois, "width", U32),
            "do_rectify": field(rois, "do_rectify", pa.bool_()),
        },
    )
    binning = struct(
        Vector2d.ARROW_TYPE, n, {"x": field(ms, "binning_x", F64), "y": field(ms, "binning_y", F64)}
    )
    return {
        "header": parts.headers_of(ms),
        "height": field(ms, "height", U32),
        "width": field(ms, "width", U32),
        "distortion_model": field(ms, "distortion_model", pa.string()),
        "distortion_parameters": as_list(_named(ms, "d", "D"), F64),
        "intrinsic_parameters": _named(ms, "k", "K").cast(t.field("intrinsic_parameters").type),
        "rectification_parameters": _named(ms, "r", "R").cast(
            t.field("rectification_parameters").type
        ),
        "projection_parameters": _named(ms, "p", "P").cast(t.field("projection_parameters").type),
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


def _point_cloud(ms: pa.StructArray) -> dict[str, pa.Array]:
    per_msg = ms.field("fields")
    flat = per_msg.flatten()
    fields = struct(
        PointField.ARROW_TYPE,
        len(flat),
        {
            "name": field(flat, "name", pa.string()),
            "offset": field(flat, "offset", U32),
            "datatype": field(flat, "datatype", pa.int64()),
            "count": field(flat, "count", U32),
        },
    )
    return {
        "header": parts.headers_of(ms),
        "height": field(ms, "height", U32),
        "width": field(ms, "width", U32),
        "fields": relist(per_msg, fields),
        "is_bigendian": field(ms, "is_bigendian", pa.bool_()),
        "point_step": field(ms, "point_step", U32),
        "row_step": field(ms, "row_step", U32),
        "data": field(ms, "data", pa.binary()),
        "is_dense": field(ms, "is_dense", pa.bool_()),
    }


def _point_cloud_ros(r: Row) -> Row:
    return parts.stamped_ros(r, "height", "width", "fields", "is_bigendian", "point_step",
                             "row_step", "data", "is_dense")  # fmt: skip


register(P + "PointCloud2", PointCloud2, _point_cloud, _point_cloud_ros)

_SCAN_SCALARS = ("angle_min", "angle_max", "angle_increment", "time_increment", "scan_time",
                 "range_min", "range_max")  # fmt: skip


def _laser_scan(ms: pa.StructArray) -> dict[str, pa.Array]:
    cols: dict[str, pa.Array] = {name: field(ms, name, F32) for name in _SCAN_SCALARS}
    cols["header"] = parts.headers_of(ms)
    cols["ranges"] = as_list(ms.field("ranges"), F32)
    cols["intensities"] = as_list(ms.field("intensities"), F32)
    return cols


def _laser_scan_ros(r: Row) -> Row:
    out = {name: r[name] for name in _SCAN_SCALARS}
    out.update(header=parts.header_ros(r["header"]), ranges=r["ranges"],
               intensities=r["intensities"] or [])  # fmt: skip
    return out


register(P + "LaserScan", LaserScan, _laser_scan, _laser_scan_ros)


def _joints(ms: pa.StructArray) -> dict[str, pa.Array]:
    return {
        "header": parts.headers_of(ms),
        "names": as_list(ms.field("name"), pa.string()),
        "positions": as_list(ms.field("position"), F64),
        "velocities": as_list(ms.field("velocity"), F64),
        "efforts": as_list(ms.field("effort"), F64),
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
            ms.field("magnetic_field"), cov=ms.field("magnetic_field_covariance")
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
            "value": field(ms, value, F64),
            "variance": field(ms, "variance", F64),
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


def _range(ms: pa.StructArray) -> dict[str, pa.Array]:
    cols: dict[str, pa.Array] = {name: field(ms, name, F32) for name in _RANGE_SCALARS}
    cols["header"] = parts.headers_of(ms)
    cols["radiation_type"] = field(ms, "radiation_type", U8)
    if "variance" in ms.type.names:  # ROS 2 Iron and later
        cols["variance"] = field(ms, "variance", F64)
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
        "axes": as_list(ms.field("axes"), F32),
        "buttons": as_list(ms.field("buttons"), I32),
    },
    lambda r: parts.stamped_ros(r, "axes", "buttons"),
)

_BATTERY_F32 = ("voltage", "temperature", "current", "charge", "capacity", "design_capacity",
                "percentage")  # fmt: skip
_BATTERY_U8 = ("power_supply_status", "power_supply_health", "power_supply_technology")


def _no_lists(n: int, item: pa.DataType) -> pa.ListArray:
    """n empty lists."""
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], item))


def _battery(ms: pa.StructArray) -> dict[str, pa.Array]:
    names = ms.type.names
    cols: dict[str, pa.Array] = {n: field(ms, n, F32) for n in _BATTERY_F32 if n in names}
    cols.update({name: field(ms, name, U8) for name in _BATTERY_U8})
    temperatures = ms.field("cell_temperature") if "cell_temperature" in names else None
    cols.update(
        header=parts.headers_of(ms),
        present=field(ms, "present", pa.bool_()),
        location=field(ms, "location", pa.string()),
        serial_number=field(ms, "serial_number", pa.string()),
        cell_voltage=as_list(ms.field("cell_voltage"), F32),
        cell_temperature=_no_lists(len(ms), F32)
        if temperatures is None
        else as_list(temperatures, F32),
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
