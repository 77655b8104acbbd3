"""Bad queries fail with INVALID_ARGUMENT naming the offending key; empty ones match all."""

from __future__ import annotations

from typing import Any

import pytest

from mosaico.protocol import (
    CatalogSection,
    ClusterizeRequest,
    IntersectRequest,
    QueryRequest,
    TimeWindow,
    TopicLocator,
)
from mosaico.protocol.errors import InvalidArgument
from mosaico.server.query import QueryPlan, check_ontology, plan_query
from mosaico.server.query.service import QueryService

REGISTERED = QueryService.known_schemas([])


def _check(body: dict[str, Any]) -> None:
    plan = plan_query(QueryRequest.from_json(body))
    check_ontology(plan.ontology, REGISTERED)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "query: the request must be a JSON object"),
        ({"sequnce": {}}, "sequnce: unknown query section"),
        ({"sequence": []}, "sequence: must be a JSON object"),
        ({"sequence": {"nme": {"$eq": "x"}}}, "sequence.nme: unknown key"),
        ({"topic": {"tag": {"$eq": "x"}}}, "topic.tag: unknown key"),
        ({"sequence": {"name": {"$like": "x"}}}, "sequence.name: unknown operator '\\$like'"),
        ({"sequence": {"name": {"$eq": "x", "$neq": "y"}}}, "sequence.name: expected an object with exactly one operator"),
        ({"sequence": {"name": "x"}}, "sequence.name: expected an object"),
        ({"sequence": {"name": {"$in": []}}}, "sequence.name: \\$in needs at least one value"),
        ({"sequence": {"name": {"$in": "abc"}}}, "sequence.name: \\$in takes an array"),
        ({"sequence": {"name": {"$in": ["a", 1]}}}, "sequence.name: \\$in values must be scalars of one JSON type"),
        ({"sequence": {"name": {"$eq": 3}}}, "sequence.name: a string value cannot be compared"),
        ({"sequence": {"name": {"$ex": None}}}, "sequence.name: \\$ex applies to user metadata only"),
        ({"sequence": {"created_at_ns": {"$between": [9, 1]}}}, "sequence.created_at_ns: \\$between range is inverted"),
        ({"sequence": {"created_at_ns": {"$between": [1]}}}, "sequence.created_at_ns: \\$between takes a \\[low, high\\]"),
        ({"sequence": {"created_at_ns": {"$between": [1, "2"]}}}, "two numbers or two strings"),
        ({"sequence": {"created_at_ns": {"$gt": "1"}}}, "sequence.created_at_ns: a number value"),
        ({"sequence": {"user_metadata": {"a.b": {"$ex": 1}}}}, "sequence.user_metadata.a.b: \\$ex takes null"),
        ({"sequence": {"user_metadata": {"a.b": {"$match": 1}}}}, "sequence.user_metadata.a.b: \\$match takes a string"),
        ({"sequence": {"user_metadata": {"a": {"$match": "[z-a]"}}}}, "sequence.user_metadata.a: bad \\$match pattern"),
        ({"topic": {"user_metadata": {"k": {"$eq": [1]}}}}, "topic.user_metadata.k: \\$eq takes a number"),
        ({"topic": {"user_metadata": []}}, "topic.user_metadata: must be an object"),
        ({"ontology": {"IMU": {"$eq": 1}}}, "IMU: ontology keys have the form"),
        ({"ontology": {"IMU.acceleration.covariance[x]": {"$eq": 1}}}, "IMU.acceleration.covariance\\[x\\]: bad path segment 'covariance\\[x\\]'"),
        ({"ontology": {"IMU.acceleration..x": {"$eq": 1}}}, "IMU.acceleration..x: bad path segment ''"),
        ({"ontology": {"IMU.acceleration.x": {"$gt": "4"}}}, "IMU.acceleration.x: a double leaf cannot be compared with '4'"),
        ({"ontology": {"IMU.acceleration.x": {"$match": "4*"}}}, "IMU.acceleration.x: \\$match applies to string leaves"),
        ({"ontology": {"IMU.acceleration.x": {"$gt": True}}}, "IMU.acceleration.x: a double leaf cannot be compared"),
        ({"ontology": {"IMU.acceleration.x": {"$nex": None}}}, "IMU.acceleration.x: \\$nex applies to user metadata only"),
        ({"ontology": {"IMU.header.frame_id": {"$in": [1]}}}, "IMU.header.frame_id: a string leaf"),
        ({"ontology": {"IMU.accel.x": {"$gt": 1.0}}}, "IMU.accel.x: unknown field for tag 'IMU': no field 'accel'"),
        ({"ontology": {"IMU.acceleration.w": {"$gt": 1.0}}}, "IMU.acceleration.w: unknown field .* has no field 'w'"),
        ({"ontology": {"IMU.acceleration.covariance": {"$gt": 1.0}}}, "IMU.acceleration.covariance: unknown field .* is a list"),
        ({"ontology": {"IMU.acceleration.x[0]": {"$gt": 1.0}}}, "IMU.acceleration.x\\[0\\]: unknown field"),
        ({"ontology": {"NoSuchTag.x": {"$gt": 1.0}}}, "NoSuchTag.x: unknown ontology tag 'NoSuchTag'"),
        ({"ontology": {"IMU.acceleration": {"$gt": 1.0}}}, "IMU.acceleration: a struct"),
        ({"ontology": {"IMU.acceleration.x": {"$outside": [2.0, 1.0]}}}, "IMU.acceleration.x: \\$outside range is inverted"),
    ],
)  # fmt: skip
def test_rejected(body: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as caught:
        _check(body)
    assert str(caught.value).startswith("invalid argument: ")


@pytest.mark.parametrize("body", [{}, {"sequence": {}}, {"topic": {}, "ontology": {}}])
def test_empty_queries_are_valid(body: dict[str, Any]) -> None:
    assert plan_query(QueryRequest.from_json(body)) == QueryPlan(
        CatalogSection(), CatalogSection(), {}
    )


def test_temporal_filter_requests() -> None:
    request = ClusterizeRequest.from_json(
        {"locator": "s/t", "clustering_dt_ns": 5, "ontology": {"IMU.acceleration.x": {"$gt": 1}},
         "timestamp_range": {"start_ns": 1, "end_ns": 9}}
    )  # fmt: skip
    assert request.window == TimeWindow(1, 9) and request.clustering_dt_ns == 5
    assert [e.key for e in request.entries_for("IMU")] == ["IMU.acceleration.x"]
    with pytest.raises(
        InvalidArgument, match="IMU.acceleration.x: topic 's/t' has ontology tag 'GPS'"
    ):
        request.entries_for("GPS")
    assert ClusterizeRequest(TopicLocator.parse("s/t")).entries_for("GPS") == ()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"locator": "s/t", "clustering_dt_ns": -1}, "'clustering_dt_ns' must be >= 0"),
        ({"locator": "s/t", "timestamp_range": {"start_ns": 5, "end_ns": 5}}, "start_ns 5 must be < end_ns 5"),
        ({"clustering_dt_ns": 1}, "missing key 'locator'"),
        ({"locator": "s/t", "ontology": {"IMU.x": {"$bad": 1}}}, "IMU.x: unknown operator"),
    ]  # fmt: skip
    for body, message in bad:
        with pytest.raises(InvalidArgument, match=message):
            ClusterizeRequest.from_json(body)
    with pytest.raises(InvalidArgument, match="'topics' must be a non-empty array"):
        IntersectRequest.from_json({"topics": []})
    with pytest.raises(InvalidArgument, match="topics\\[1\\]: missing key 'locator'"):
        IntersectRequest.from_json({"topics": [{"locator": "a/b"}, {}]})
    assert IntersectRequest.from_json({"topics": [{"locator": "a/b"}]}).intersect_dt_ns == 0
