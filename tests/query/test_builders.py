"""Builders produce the request JSON of spec §8.9, entry by entry, and refuse bad input."""

from __future__ import annotations

from typing import Any

import pytest

from mosaico.query import Query, QueryBuildError, QueryOntologyCatalog, QuerySequence, QueryTopic
from mosaico.types import IMU, PointCloud2, RobotJoint

TABLE: list[tuple[Any, str, dict[str, Any]]] = [
    (QuerySequence().with_name("x"), "name", {"$eq": "x"}),
    (QuerySequence().with_name_match("run-*"), "name", {"$match": "run-*"}),
    (QuerySequence().with_created_timestamp(time_start=5), "created_at_ns", {"$geq": 5}),
    (QuerySequence().with_created_timestamp(time_end=9), "created_at_ns", {"$leq": 9}),
    (QuerySequence().with_created_timestamp(5, 9), "created_at_ns", {"$between": [5, 9]}),
    (QuerySequence().with_user_metadata("a.b", eq=1), "user_metadata", {"a.b": {"$eq": 1}}),
    (QuerySequence().with_user_metadata("c", in_=[1, 2]), "user_metadata", {"c": {"$in": [1, 2]}}),
    (QuerySequence().with_user_metadata("k", ex=True), "user_metadata", {"k": {"$ex": None}}),
    (QuerySequence().with_user_metadata("k", ex=False), "user_metadata", {"k": {"$nex": None}}),
    (QueryTopic().with_ontology_tag("IMU"), "ontology_tag", {"$eq": "IMU"}),
    (QueryTopic().with_ontology_tag(IMU), "ontology_tag", {"$eq": "IMU"}),
    (QueryOntologyCatalog(IMU.Q.acceleration.x.gt(9.8)), "IMU.acceleration.x", {"$gt": 9.8}),
    (QueryOntologyCatalog(IMU.Q.acceleration.x.in_(1.0, 2.0)), "IMU.acceleration.x",
     {"$in": [1.0, 2.0]}),
    (QueryOntologyCatalog(IMU.Q.acceleration.y.outside(5.0, 6.0)), "IMU.acceleration.y",
     {"$outside": [5.0, 6.0]}),
    (QueryOntologyCatalog(RobotJoint.Q.positions.any().gt(1.0)), "RobotJoint.positions[?]",
     {"$gt": 1.0}),
    (QueryOntologyCatalog(IMU.Q.angular_velocity.covariance.all().geq(0.0)),
     "IMU.angular_velocity.covariance[!]", {"$geq": 0.0}),
    (QueryOntologyCatalog(IMU.Q.acceleration.covariance[2].leq(1.0)),
     "IMU.acceleration.covariance[2]", {"$leq": 1.0}),
    (QueryOntologyCatalog(PointCloud2.Q.fields.any().name.eq("x")), "PointCloud2.fields[?].name",
     {"$eq": "x"}),
]  # fmt: skip


@pytest.mark.parametrize(("builder", "key", "entry"), TABLE)
def test_spec_table(builder: Any, key: str, entry: dict[str, Any]) -> None:
    assert builder.to_json() == {key: entry}


def test_every_metadata_operator() -> None:
    b = QueryTopic()
    ops = {"eq": 1, "neq": "a", "lt": 2, "leq": 2.5, "gt": "b", "geq": 0, "between": (1, 2),
           "outside": ["a", "b"], "in_": ("x", "y"), "match": "s*"}  # fmt: skip
    for op, value in ops.items():
        b.with_user_metadata(f"p.{op}", **{op: value})
    meta = b.to_json()["user_metadata"]
    assert meta["p.between"] == {"$between": [1, 2]}
    assert meta["p.outside"] == {"$outside": ["a", "b"]}
    assert meta["p.in_"] == {"$in": ["x", "y"]}
    assert meta["p.leq"] == {"$leq": 2.5}
    assert meta["p.match"] == {"$match": "s*"}
    assert len(meta) == len(ops)


def test_spec_complete_example() -> None:
    query = Query(
        QuerySequence()
        .with_user_metadata("environment.visibility", lt=50)
        .with_name_match("run-*")
        .with_created_timestamp(1, 4611686018427387904)
        .with_user_metadata("vehicle.id", ex=True),
        QueryTopic()
        .with_name("/imu/front")
        .with_ontology_tag("IMU")
        .with_user_metadata("sensor.model", eq="xsens"),
        QueryOntologyCatalog(
            IMU.Q.acceleration.x.between(0.0, 2.0),
            IMU.Q.header.frame_id.match("im*"),
            IMU.Q.timestamp_ns.geq(1700000000000000000),
            RobotJoint.Q.positions.any().gt(1.0),
        ),
    )
    doc = query.to_json()
    assert doc == {
        "sequence": {"name": {"$match": "run-*"},
                     "created_at_ns": {"$between": [1, 4611686018427387904]},
                     "user_metadata": {"environment.visibility": {"$lt": 50},
                                       "vehicle.id": {"$ex": None}}},
        "topic": {"name": {"$eq": "/imu/front"},
                  "ontology_tag": {"$eq": "IMU"},
                  "user_metadata": {"sensor.model": {"$eq": "xsens"}}},
        "ontology": {"IMU.acceleration.x": {"$between": [0.0, 2.0]},
                     "IMU.header.frame_id": {"$match": "im*"},
                     "IMU.timestamp_ns": {"$geq": 1700000000000000000},
                     "RobotJoint.positions[?]": {"$gt": 1.0}},
    }  # fmt: skip
    # user_metadata comes after the other keys of its section (§8.9).
    assert list(doc["sequence"]) == ["name", "created_at_ns", "user_metadata"]
    assert query.ontology == doc["ontology"]


def test_empty_builders_give_empty_sections() -> None:
    assert Query().to_json() == {}
    assert Query(QueryTopic()).to_json() == {"topic": {}}
    assert Query(QuerySequence(), QueryOntologyCatalog()).to_json() == {
        "sequence": {}, "ontology": {}
    }  # fmt: skip


def test_zero_timestamps_mean_not_given() -> None:
    assert QuerySequence().with_created_timestamp(0, 7).to_json() == {
        "created_at_ns": {"$leq": 7}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: QuerySequence().with_name("a").with_name_match("b*"), "sequence.name is already"),
        (lambda: QueryTopic().with_user_metadata("k", eq=1).with_user_metadata("k", gt=0),
         "topic.user_metadata.k is already"),
        (lambda: QueryTopic().with_user_metadata("k"), "exactly one operator"),
        (lambda: QueryTopic().with_user_metadata("k", eq=1, gt=2), "exactly one operator"),
        (lambda: QueryTopic().with_user_metadata("k", in_=[]), "at least one value"),
        (lambda: QueryTopic().with_user_metadata("k", in_=[1, "a"]), "one type"),
        (lambda: QueryTopic().with_user_metadata("k", between=(3, 1)), "low <= high"),
        (lambda: QueryTopic().with_user_metadata("k", eq=[1]), "not a number"),
        (lambda: QueryTopic().with_user_metadata("k", ex=1), "ex takes True"),
        (lambda: QuerySequence().with_created_timestamp(9, 5), "after time_end"),
        (lambda: QuerySequence().with_created_timestamp(), "give time_start"),
        (lambda: QueryOntologyCatalog(IMU.Q.acceleration.x.gt(1.0), IMU.Q.acceleration.x.lt(2.0)),
         "IMU.acceleration.x is already"),
        (lambda: QueryOntologyCatalog("IMU.acceleration.x"), "typed expression"),  # type: ignore[arg-type]
        (lambda: Query(QueryTopic(), QueryTopic()), "already has a topic builder"),
    ],
)  # fmt: skip
def test_bad_builds(build: Any, message: str) -> None:
    with pytest.raises(QueryBuildError, match=message):
        build()


def test_several_tags_and_entries_for_tag() -> None:
    catalog = QueryOntologyCatalog(IMU.Q.acceleration.x.gt(1.0), RobotJoint.Q.names.any().eq("j"))
    assert catalog.entries_for("IMU") == {"IMU.acceleration.x": {"$gt": 1.0}}
    assert catalog.entries_for("RobotJoint") == {"RobotJoint.names[?]": {"$eq": "j"}}
