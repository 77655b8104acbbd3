"""Generated query proxies: the builder -> JSON table of the protocol, and build-time errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mosaico.ontology import QueryBuildError, UnknownFieldError
from mosaico.types import GPS, IMU, Image, MultiEchoLaserScan, PointCloud2, RobotJoint
from mosaico_codegen.generate import generate

HERE = Path(__file__).parent


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (lambda: IMU.Q.acceleration.x.gt(9.8), {"IMU.acceleration.x": {"$gt": 9.8}}),
        (lambda: IMU.Q.acceleration.x.in_(1.0, 2.0), {"IMU.acceleration.x": {"$in": [1.0, 2.0]}}),
        (
            lambda: IMU.Q.acceleration.y.outside(5.0, 6.0),
            {"IMU.acceleration.y": {"$outside": [5.0, 6.0]}},
        ),
        (lambda: RobotJoint.Q.positions.any().gt(1.0), {"RobotJoint.positions[?]": {"$gt": 1.0}}),
        (
            lambda: IMU.Q.angular_velocity.covariance.all().geq(0.0),
            {"IMU.angular_velocity.covariance[!]": {"$geq": 0.0}},
        ),
        (
            lambda: IMU.Q.acceleration.covariance[2].leq(1.0),
            {"IMU.acceleration.covariance[2]": {"$leq": 1.0}},
        ),
        (
            lambda: PointCloud2.Q.fields.any().name.eq("x"),
            {"PointCloud2.fields[?].name": {"$eq": "x"}},
        ),
        (lambda: GPS.Q.header.frame_id.match("gp*"), {"GPS.header.frame_id": {"$match": "gp*"}}),
        (lambda: GPS.Q.status.satellites.neq(3), {"GPS.status.satellites": {"$neq": 3}}),
        (
            lambda: IMU.Q.header.timestamp.seconds.between(1, 2),
            {"IMU.header.timestamp.seconds": {"$between": [1, 2]}},
        ),
        (
            lambda: IMU.Q.timestamp_ns.geq(1_700_000_000_000_000_000),
            {"IMU.timestamp_ns": {"$geq": 1_700_000_000_000_000_000}},
        ),
        (lambda: Image.Q.is_bigendian.eq(False), {"Image.is_bigendian": {"$eq": False}}),
    ],
)
def test_builders_produce_the_protocol_json(expression, expected) -> None:
    assert expression().to_json() == expected


@pytest.mark.parametrize(
    ("expression", "error", "message"),
    [
        (
            lambda: IMU.Q.accel,
            UnknownFieldError,
            "IMU has no field 'accel' (fields: timestamp_ns, header, acceleration, angular_velocity, orientation)",
        ),
        (
            lambda: IMU.Q.acceleration.x.match("a*"),
            QueryBuildError,
            "IMU.acceleration.x: operator 'match' is not available for a double leaf",
        ),
        (
            lambda: GPS.Q.header.frame_id.neq("a"),
            QueryBuildError,
            "GPS.header.frame_id: operator 'neq' is not available for a string leaf",
        ),
        (
            lambda: Image.Q.is_bigendian.gt(True),
            QueryBuildError,
            "Image.is_bigendian: operator 'gt' is not available for a bool leaf",
        ),
        (
            lambda: Image.Q.data.eq(b"x"),
            QueryBuildError,
            "Image.data: operator 'eq' is not available for a binary leaf (it is not queryable)",
        ),
        (
            lambda: RobotJoint.Q.positions.gt(1.0),
            QueryBuildError,
            "RobotJoint.positions is a list: select elements",
        ),
        (
            lambda: IMU.Q.acceleration.eq(1.0),
            QueryBuildError,
            "IMU.acceleration is a struct: compare one of its fields",
        ),
        (lambda: IMU.Q.acceleration.x.any(), QueryBuildError, "IMU.acceleration.x is not a list"),
        (
            lambda: MultiEchoLaserScan.Q.ranges.any(),
            QueryBuildError,
            "MultiEchoLaserScan.ranges is a list of lists",
        ),
        (
            lambda: GPS.Q.header.frame_id.eq(3),
            QueryBuildError,
            "GPS.header.frame_id: 3 cannot be compared with a string leaf",
        ),
        (
            lambda: IMU.Q.acceleration.x.gt(True),
            QueryBuildError,
            "IMU.acceleration.x: True cannot be compared with a double leaf",
        ),
        (
            lambda: IMU.Q.acceleration.x.in_(),
            QueryBuildError,
            "IMU.acceleration.x: in_ needs at least one value",
        ),
        (
            lambda: IMU.Q.acceleration.x.in_(1, 2.0),
            QueryBuildError,
            "in_ values must all have one type",
        ),
        (
            lambda: IMU.Q.acceleration.x.between(3.0, 1.0),
            QueryBuildError,
            "between needs low <= high, got [3.0, 1.0]",
        ),
        (
            lambda: RobotJoint.Q.positions[-1],
            QueryBuildError,
            "RobotJoint.positions: a list index is a non-negative integer, got -1",
        ),
    ],
)
def test_bad_expressions_fail_when_built(expression, error, message) -> None:
    with pytest.raises(error) as err:
        expression()
    assert message in str(err.value)


def test_unknown_field_is_an_attribute_error() -> None:
    assert not hasattr(IMU.Q, "accel")
    assert hasattr(IMU.Q, "acceleration")


def test_user_types_get_proxies_with_their_tag(tmp_path: Path, import_generated) -> None:
    generate([HERE / "kitchen_sink"], out=tmp_path / "kitchen", package="kitchen")
    kitchen = import_generated(tmp_path, "kitchen")
    expr = kitchen.KitchenSink.Q.path.any().u.gt(1.0)
    assert expr.to_json() == {"kitchen_sink.path[?].u": {"$gt": 1.0}}
    assert (
        kitchen.KitchenSink.Q.vector.header.frame_id.eq("f").key
        == "kitchen_sink.vector.header.frame_id"
    )
    with pytest.raises(UnknownFieldError, match="KitchenSink has no field 'nope'"):
        kitchen.KitchenSink.Q.nope  # noqa: B018
