"""MCAP files written with the mcap library's own writers: Foxglove protobuf schemas
(`foxglove-schemas-protobuf` through `mcap-protobuf-support`'s Writer), JSON schemas
(`mcap.writer.Writer`), a custom protobuf type built from descriptor_pb2, and ROS 2 CDR
channels (serialized by rosbags) side by side in one file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
from foxglove_schemas_protobuf.CameraCalibration_pb2 import CameraCalibration
from foxglove_schemas_protobuf.CompressedImage_pb2 import CompressedImage
from foxglove_schemas_protobuf.CompressedVideo_pb2 import CompressedVideo
from foxglove_schemas_protobuf.FrameTransform_pb2 import FrameTransform
from foxglove_schemas_protobuf.FrameTransforms_pb2 import FrameTransforms
from foxglove_schemas_protobuf.JointState_pb2 import JointState
from foxglove_schemas_protobuf.JointStates_pb2 import JointStates
from foxglove_schemas_protobuf.LaserScan_pb2 import LaserScan
from foxglove_schemas_protobuf.LocationFix_pb2 import LocationFix
from foxglove_schemas_protobuf.Log_pb2 import Log
from foxglove_schemas_protobuf.Odometry_pb2 import Odometry
from foxglove_schemas_protobuf.PackedElementField_pb2 import PackedElementField
from foxglove_schemas_protobuf.PointCloud_pb2 import PointCloud
from foxglove_schemas_protobuf.Pose_pb2 import Pose
from foxglove_schemas_protobuf.PoseInFrame_pb2 import PoseInFrame
from foxglove_schemas_protobuf.PosesInFrame_pb2 import PosesInFrame
from foxglove_schemas_protobuf.Quaternion_pb2 import Quaternion
from foxglove_schemas_protobuf.RawImage_pb2 import RawImage
from foxglove_schemas_protobuf.Vector3_pb2 import Vector3
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.timestamp_pb2 import Timestamp
from mcap.writer import Writer
from mcap_protobuf.schema import register_schema
from mcap_protobuf.writer import Writer as ProtobufWriter
from rosbags.typesys import Stores, get_typestore

START = 1_700_000_000_000_000_000
STEP = 10_000_000  # 100 Hz
N = 12


def log_time(i: int, offset: int = 0) -> int:
    return START + i * STEP + offset


def stamp(i: int) -> Timestamp:
    t = log_time(i) - 1_000  # the header stamp is just before the log time
    return Timestamp(seconds=t // 10**9, nanos=t % 10**9)


def location_fix(i: int) -> LocationFix:
    msg = LocationFix(
        timestamp=stamp(i),
        frame_id="gnss",
        latitude=45.0 + i * 1e-5,
        longitude=9.0 - i * 1e-5,
        altitude=120.0 + i,
        position_covariance=[float(i + k) for k in range(9)],
        position_covariance_type=LocationFix.DIAGONAL_KNOWN,
        heading=0.5,
    )
    if i % 2 == 0:  # velocity (ENU) only on even messages
        msg.velocity.CopyFrom(Vector3(x=1.0 + i, y=2.0, z=-0.5))
    return msg


def pose(i: int) -> Pose:
    return Pose(
        position=Vector3(x=float(i), y=2.0 * i, z=0.5),
        orientation=Quaternion(x=0.0, y=0.0, z=0.6, w=0.8),
    )


def frame_transform(i: int, child: str) -> FrameTransform:
    return FrameTransform(
        timestamp=stamp(i),
        parent_frame_id="map",
        child_frame_id=child,
        translation=Vector3(x=1.0 * i, y=-1.0, z=0.25),
        rotation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
    )


CLOUD_FIELDS = [("x", 0), ("y", 4), ("z", 8)]


def point_cloud(i: int) -> PointCloud:
    points = np.arange(3 * (i + 1), dtype=np.float32)
    return PointCloud(
        timestamp=stamp(i),
        frame_id="lidar",
        pose=pose(0),
        point_stride=12,
        fields=[
            PackedElementField(name=n, offset=o, type=PackedElementField.FLOAT32)
            for n, o in CLOUD_FIELDS
        ],
        data=points.tobytes(),
    )


def more_messages(i: int) -> dict[str, Any]:
    """The Foxglove schemas of the second half of the adapter table."""
    return {
        "/video": CompressedVideo(
            timestamp=stamp(i), frame_id="cam", format="h265", data=b"\0\0\1"
        ),
        "/path": PosesInFrame(
            timestamp=stamp(i), frame_id="map", poses=[pose(k) for k in range(i % 3)]
        ),
        "/odom": Odometry(
            timestamp=stamp(i),
            frame_id="odom",
            body_frame_id="base",
            pose=pose(i),
            linear_velocity=Vector3(x=1.0, y=0.0, z=0.0),
            angular_velocity=Vector3(x=0.0, y=0.0, z=0.1 * i),
            pose_covariance=[0.01] * 36,
            velocity_covariance=[0.02] * 36,
        ),  # fmt: skip
        "/joints": JointStates(
            timestamp=stamp(i),
            joints=[
                JointState(
                    name=f"j{k}", position=0.1 * k + i, velocity=1.0, effort=-2.0, acceleration=3.0
                )
                for k in range(2)
            ],
        ),  # fmt: skip
        "/calib": CameraCalibration(
            timestamp=stamp(i),
            frame_id="cam",
            width=640,
            height=480,
            distortion_model="plumb_bob",
            D=[0.1, 0.0, 0.0, 0.0, 0.0],
            K=[500.0, 0, 320, 0, 500, 240, 0, 0, 1],
            R=[1.0, 0, 0, 0, 1, 0, 0, 0, 1],
            P=[500.0, 0, 320, 0, 0, 500, 240, 0, 0, 0, 1, 0],
        ),  # fmt: skip
    }


def foxglove_messages(i: int) -> dict[str, Any]:
    """Topic → the i-th protobuf message of the Foxglove file."""
    return {
        "/gps": location_fix(i),
        "/camera": CompressedImage(
            timestamp=stamp(i), frame_id="cam", format="jpeg", data=bytes([i % 256]) * (i + 3)
        ),
        "/image": RawImage(
            timestamp=stamp(i),
            frame_id="cam",
            width=4,
            height=2,
            encoding="rgb8",
            step=12,
            data=bytes((i + k) % 256 for k in range(24)),
        ),  # fmt: skip
        "/tf": FrameTransforms(
            transforms=[frame_transform(i, "base"), frame_transform(i, "lidar")][: 1 + i % 2]
        ),
        "/tf_one": frame_transform(i, "odom"),
        "/pose": PoseInFrame(timestamp=stamp(i), frame_id="map", pose=pose(i)),
        "/cloud": point_cloud(i),
        "/scan": LaserScan(
            timestamp=stamp(i),
            frame_id="laser",
            pose=pose(0),
            start_angle=-1.0,
            end_angle=1.0,
            ranges=[1.0 + k + i for k in range(5)],
            intensities=[float(k) for k in range(5)],
        ),  # fmt: skip
        **more_messages(i),
        "/log": Log(
            timestamp=stamp(i),
            level=Log.INFO,
            message=f"step {i}",
            name="node",
            file="main.cc",
            line=10 + i,
        ),  # fmt: skip
    }


def write_foxglove(path: Path, n: int = N) -> Path:
    """Every topic of `foxglove_messages`, through mcap-protobuf-support's Writer."""
    with path.open("wb") as stream:
        writer = ProtobufWriter(stream)
        for i in range(n):
            for k, (topic, msg) in enumerate(foxglove_messages(i).items()):
                writer.write_message(topic, msg, log_time=log_time(i, k), publish_time=log_time(i))
        writer.finish()
    return path


# --- JSON ------------------------------------------------------------------------------------

_TIME = {
    "type": "object",
    "properties": {"sec": {"type": "integer"}, "nsec": {"type": "integer"}},
}
LOCATION_FIX_SCHEMA = {
    "title": "foxglove.LocationFix",
    "type": "object",
    "properties": {
        "timestamp": {"$ref": "#/$defs/time"},
        "frame_id": {"type": "string"},
        "latitude": {"type": "number"},
        "longitude": {"type": "number"},
        "altitude": {"type": "number"},
        "position_covariance": {"type": "array", "items": {"type": "number"}},
        "position_covariance_type": {"type": "integer"},
        "velocity": {
            "type": "object",
            "properties": {k: {"type": "number"} for k in "xyz"},
        },
    },
    "$defs": {"time": _TIME},
}
COMPRESSED_IMAGE_SCHEMA = {
    "title": "foxglove.CompressedImage",
    "type": "object",
    "properties": {
        "timestamp": _TIME,
        "frame_id": {"type": "string"},
        "data": {"type": "string", "contentEncoding": "base64"},
        "format": {"type": "string"},
    },
}
STATUS_SCHEMA = {
    "type": "object",
    "properties": {
        "mode": {"type": "string"},
        "battery": {"type": "number"},
        "count": {"type": ["integer", "null"]},
        "flags": {"type": "array", "items": {"type": "boolean"}},
        "where": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
        },
        "extra": {"type": "object"},
        "blob": {"type": "string", "contentEncoding": "base64"},
    },
}


def json_time(i: int) -> dict[str, int]:
    s = stamp(i)
    return {"sec": s.seconds, "nsec": s.nanos}


def json_messages(i: int) -> dict[str, dict[str, Any]]:
    fix = location_fix(i)
    gps = {
        "timestamp": json_time(i),
        "frame_id": "gnss",
        "latitude": fix.latitude,
        "longitude": fix.longitude,
        "altitude": fix.altitude,
        "position_covariance": list(fix.position_covariance),
        "position_covariance_type": 2,
    }
    if i % 2 == 0:
        gps["velocity"] = {"x": 1.0 + i, "y": 2.0, "z": -0.5}
    status = {
        "mode": "run" if i % 3 else "idle",
        "battery": 0.9 - i / 100,
        "count": None if i == 4 else i,
        "flags": [True, i % 2 == 0],
        "where": {"x": float(i), "y": -1.5},
        "extra": {"note": f"n{i}", "k": [1, 2]},
        "blob": base64.b64encode(bytes([i % 256, 255])).decode(),
    }
    image = {
        "timestamp": json_time(i),
        "frame_id": "cam",
        "data": base64.b64encode(bytes([i % 256]) * 4).decode(),
        "format": "png",
    }
    return {"/gps_json": gps, "/status": status, "/image_json": image}


JSON_SCHEMAS = {
    "/gps_json": ("foxglove.LocationFix", LOCATION_FIX_SCHEMA),
    "/status": ("robot.Status", STATUS_SCHEMA),
    "/image_json": ("foxglove.CompressedImage", COMPRESSED_IMAGE_SCHEMA),
}


def _json_channels(writer: Writer) -> dict[str, int]:
    channels = {}
    for topic, (name, schema) in JSON_SCHEMAS.items():
        sid = writer.register_schema(name, "jsonschema", json.dumps(schema).encode())
        channels[topic] = writer.register_channel(topic, "json", sid, {"origin": "test"})
    return channels


def write_json(path: Path, n: int = N, **options: Any) -> Path:
    """The JSON topics; `options` go to `mcap.writer.Writer` (chunking, statistics...)."""
    with path.open("wb") as stream:
        writer = Writer(stream, **options)
        writer.start(profile="", library="tests")
        channels = _json_channels(writer)
        for i in range(n):
            for k, (topic, msg) in enumerate(json_messages(i).items()):
                data = json.dumps(msg).encode()
                writer.add_message(channels[topic], log_time(i, k), data, log_time(i))
        writer.finish()
    return path


# --- a custom protobuf type, and ROS 2 CDR next to it ----------------------------------------


def wheel_class() -> Any:
    """`robot.Wheel`, built from a FileDescriptorProto (no .proto file, no protoc)."""
    f = descriptor_pb2.FileDescriptorProto(
        name="robot/wheel.proto", package="robot", syntax="proto3"
    )
    mode = f.enum_type.add(name="Mode")
    mode.value.add(name="IDLE", number=0)
    mode.value.add(name="RUN", number=1)
    inner = f.message_type.add(name="Motor")
    inner.field.add(name="ok", number=1, type=8, label=1)  # bool
    inner.field.add(name="current", number=2, type=2, label=1)  # float
    wheel = f.message_type.add(name="Wheel")
    entry = wheel.nested_type.add(name="GainsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=9, label=1)
    entry.field.add(name="value", number=2, type=1, label=1)
    T = descriptor_pb2.FieldDescriptorProto
    wheel.field.add(name="name", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    wheel.field.add(name="speed", number=2, type=T.TYPE_DOUBLE, label=T.LABEL_OPTIONAL)
    wheel.field.add(name="ticks", number=3, type=T.TYPE_SINT64, label=T.LABEL_REPEATED)
    wheel.field.add(name="gains", number=4, type=T.TYPE_MESSAGE, label=T.LABEL_REPEATED,
                    type_name=".robot.Wheel.GainsEntry")  # fmt: skip
    wheel.field.add(name="motor", number=5, type=T.TYPE_MESSAGE, label=T.LABEL_OPTIONAL,
                    type_name=".robot.Motor")  # fmt: skip
    wheel.field.add(name="mode", number=6, type=T.TYPE_ENUM, label=T.LABEL_OPTIONAL,
                    type_name=".robot.Mode")  # fmt: skip
    wheel.field.add(name="raw", number=7, type=T.TYPE_BYTES, label=T.LABEL_OPTIONAL)
    wheel.field.add(name="motors", number=8, type=T.TYPE_MESSAGE, label=T.LABEL_REPEATED,
                    type_name=".robot.Motor")  # fmt: skip
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("robot.Wheel"))


def wheel_message(cls: Any, i: int) -> Any:
    msg = cls(name=f"w{i}", speed=0.5 * i, ticks=[i, -i, 2**40], mode=i % 2, raw=bytes([i % 256]))
    msg.gains["p"] = 1.5
    msg.gains["i"] = 0.1 * i
    if i % 3:
        msg.motor.ok = True
        msg.motor.current = 2.5
    msg.motors.add(ok=False, current=float(i))
    return msg


def imu(i: int) -> dict[str, Any]:
    return {"stamp": (1_700_000_000 + i, 5_000), "acc": (0.1 * i, 0.0, 9.81)}


def _imu_msg(typestore: Any, i: int, **header_extra: Any) -> Any:
    types = typestore.types
    v = imu(i)
    header = types["std_msgs/msg/Header"](
        stamp=types["builtin_interfaces/msg/Time"](sec=v["stamp"][0], nanosec=v["stamp"][1]),
        frame_id="imu",
        **header_extra,
    )
    vec = types["geometry_msgs/msg/Vector3"]
    return types["sensor_msgs/msg/Imu"](
        header=header,
        orientation=types["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        orientation_covariance=np.zeros(9),
        angular_velocity=vec(x=0.0, y=0.0, z=0.1),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=vec(x=v["acc"][0], y=v["acc"][1], z=v["acc"][2]),
        linear_acceleration_covariance=np.eye(3).ravel(),
    )


def _imu_cdr(typestore: Any, i: int) -> bytes:
    return bytes(typestore.serialize_cdr(_imu_msg(typestore, i), "sensor_msgs/msg/Imu"))


def write_ros_only(path: Path, n: int = N) -> Path:
    """/imu alone, in a file whose profile is not `ros2` (rosbags refuses those)."""
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    with path.open("wb") as stream:
        writer = Writer(stream)
        writer.start(profile="", library="tests")
        definition = typestore.generate_msgdef("sensor_msgs/msg/Imu", 2)[0].encode()
        schema = writer.register_schema("sensor_msgs/msg/Imu", "ros2msg", definition)
        channel = writer.register_channel("/imu", "cdr", schema)
        for i in range(n):
            writer.add_message(channel, log_time(i), _imu_cdr(typestore, i), log_time(i))
        writer.finish()
    return path


def write_ros1(path: Path, n: int = N, *, with_ros2: bool = False) -> Path:
    """/imu as ROS 1 messages (the MCAP ros1 profile: `pkg/Name` schema names, latching and
    callerid in the channel metadata); with `with_ros2`, a ROS 2 /imu2 channel too."""
    ros1, ros2 = get_typestore(Stores.ROS1_NOETIC), get_typestore(Stores.ROS2_HUMBLE)
    with path.open("wb") as stream:
        writer = Writer(stream)
        writer.start(profile="ros1", library="tests")
        schema = writer.register_schema(
            "sensor_msgs/Imu", "ros1msg", ros1.generate_msgdef("sensor_msgs/msg/Imu")[0].encode()
        )
        meta = {"callerid": "/imu_node", "latching": "1"}
        channels = {"/imu": writer.register_channel("/imu", "ros1", schema, meta)}
        if with_ros2:
            definition = ros2.generate_msgdef("sensor_msgs/msg/Imu", 2)[0].encode()
            schema2 = writer.register_schema("sensor_msgs/msg/Imu", "ros2msg", definition)
            channels["/imu2"] = writer.register_channel("/imu2", "cdr", schema2)
        for i in range(n):
            writer.add_message(channels["/imu"], log_time(i), _imu_ros1(ros1, i), log_time(i))
            if with_ros2:
                writer.add_message(
                    channels["/imu2"], log_time(i, 1), _imu_cdr(ros2, i), log_time(i)
                )
        writer.finish()
    return path


def _imu_ros1(typestore: Any, i: int) -> bytes:
    return bytes(typestore.serialize_ros1(_imu_msg(typestore, i, seq=i), "sensor_msgs/msg/Imu"))


BAD_AT = 7  # the corrupt message of /wheel_bad


def write_mixed(path: Path, n: int = N, *, bad: bool = False) -> Path:
    """/imu (ROS 2 CDR), /gps (Foxglove protobuf), /wheel (custom protobuf), the JSON
    topics; with `bad`, also /wheel_bad (message BAD_AT corrupt) and /cbor (an encoding
    mosaico does not read)."""
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    wheel_cls = wheel_class()
    with path.open("wb") as stream:
        writer = Writer(stream)
        writer.start(profile="", library="tests")
        imu_schema = writer.register_schema(
            "sensor_msgs/msg/Imu",
            "ros2msg",
            typestore.generate_msgdef("sensor_msgs/msg/Imu", 2)[0].encode(),
        )
        qos = "- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 2147483647\n    nsec: 4294967295\n  lifespan:\n    sec: 2147483647\n    nsec: 4294967295\n  liveliness: 1\n  liveliness_lease_duration:\n    sec: 2147483647\n    nsec: 4294967295\n  avoid_ros_namespace_conventions: false\n"
        channels = {
            "/imu": writer.register_channel(
                "/imu", "cdr", imu_schema, {"offered_qos_profiles": qos}
            ),
            "/gps": writer.register_channel(
                "/gps", "protobuf", register_schema(writer, LocationFix)
            ),
            "/wheel": writer.register_channel(
                "/wheel", "protobuf", register_schema(writer, wheel_cls)
            ),
        }
        channels.update(_json_channels(writer))
        if bad:
            channels["/wheel_bad"] = writer.register_channel(
                "/wheel_bad", "protobuf", register_schema(writer, wheel_cls)
            )
            cbor = writer.register_schema("robot.Cbor", "", b"")
            channels["/cbor"] = writer.register_channel("/cbor", "cbor", cbor)
        for i in range(n):
            payloads = {
                "/imu": _imu_cdr(typestore, i),
                "/gps": location_fix(i).SerializeToString(),
                "/wheel": wheel_message(wheel_cls, i).SerializeToString(),
                **{t: json.dumps(m).encode() for t, m in json_messages(i).items()},
            }
            if bad:
                good = wheel_message(wheel_cls, i).SerializeToString()
                payloads["/wheel_bad"] = b"\xff\xff\xff\xff" if i == BAD_AT else good
                payloads["/cbor"] = b"\xa0"
            for k, topic in enumerate(payloads):
                writer.add_message(channels[topic], log_time(i, k), payloads[topic], log_time(i))
        writer.finish()
    return path
