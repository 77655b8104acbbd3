"""The query documents of the protocol: typed requests parsed like every action, one operator
table behind the client builders, the ``Type.Q`` proxies and the server, one window shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mosaico.ontology import FieldPath, QueryBuildError
from mosaico.protocol import (
    OPERATORS,
    ClusterizeRequest,
    IntersectRequest,
    InvalidArgument,
    QueryReply,
    QueryRequest,
    TimeCluster,
    TimeWindow,
    TopicLocator,
    encode_request,
    parse_request,
)
from mosaico.protocol.operators import typed_methods
from mosaico.query import QuerySequence
from mosaico.types import IMU

QUERY = {
    "sequence": {"name": {"$match": "run-*"}, "user_metadata": {"a.b": {"$ex": None}}},
    "topic": {},
    "ontology": {"IMU.acceleration.covariance[2]": {"$between": [0.0, 1.0]}},
}
CLUSTERIZE = {
    "locator": "run/imu", "clustering_dt_ns": 5, "ontology": {"IMU.acceleration.x": {"$gt": 1}},
    "timestamp_range": {"start_ns": 1, "end_ns": 9},
}  # fmt: skip
INTERSECT = {
    "topics": [{"locator": "run/imu", "clustering_dt_ns": 0, "ontology": {}}],
    "intersect_dt_ns": 4,
}


@pytest.mark.parametrize(
    ("name", "body", "kind"),
    [("query", QUERY, QueryRequest), ("topic_filter_clusterize", CLUSTERIZE, ClusterizeRequest),
     ("topic_filter_intersect", INTERSECT, IntersectRequest)],
)  # fmt: skip
def test_query_actions_are_typed_requests(name: str, body: dict[str, Any], kind: type) -> None:
    request = parse_request(name, json.dumps(body).encode())
    assert isinstance(request, kind)
    encoded_name, encoded = encode_request(request)
    assert encoded_name == name and json.loads(encoded) == body
    assert parse_request(name, encoded) == request


def test_clusterize_request_fields() -> None:
    request = ClusterizeRequest.from_json(CLUSTERIZE)
    assert request.topic == TopicLocator("run", "imu")
    assert request.window == TimeWindow(1, 9)
    assert [e.key for e in request.entries_for("IMU")] == ["IMU.acceleration.x"]
    unbounded = ClusterizeRequest(TopicLocator("run", "imu")).to_json()
    assert unbounded == {"locator": "run/imu", "clustering_dt_ns": 0, "ontology": {},
                         "timestamp_range": None}  # fmt: skip
    with pytest.raises(InvalidArgument, match="give both start_ns and end_ns"):
        ClusterizeRequest.checked(TopicLocator("run", "imu"), window=TimeWindow(1, None))


def test_one_operator_table_for_proxies_builders_and_server() -> None:
    # Type.Q offers exactly the table's typed operators for each leaf kind.
    for kind in ("number", "string", "bool"):
        assert all(callable(getattr(FieldPath, method)) for method in typed_methods(kind))
    assert typed_methods("string") == ["eq", "lt", "leq", "gt", "geq", "between", "outside",
                                       "in_", "match"]  # fmt: skip
    # $neq is evaluated on string leaves by the server, but the typed builders do not offer it.
    assert "string" in OPERATORS["$neq"].leaves and "neq" not in typed_methods("string")


def test_one_message_per_rule() -> None:
    texts = []
    with pytest.raises(QueryBuildError) as proxy:
        IMU.Q.acceleration.x.between(3.0, 1.0)
    texts.append(str(proxy.value))
    with pytest.raises(QueryBuildError) as builder:
        QuerySequence().with_user_metadata("k", between=(3.0, 1.0))
    texts.append(str(builder.value))
    with pytest.raises(InvalidArgument) as server:
        QueryRequest.from_json({"ontology": {"IMU.acceleration.x": {"$between": [3.0, 1.0]}}})
    texts.append(server.value.detail)
    rule = "range is inverted ({op} needs low <= high, got [3.0, 1.0])"
    assert texts == [
        f"IMU.acceleration.x: between {rule.format(op='between')}",
        f"sequence.user_metadata.k: between {rule.format(op='between')}",
        f"IMU.acceleration.x: $between {rule.format(op='$between')}",
    ]


def test_bad_globs_fail_when_built() -> None:
    with pytest.raises(QueryBuildError, match="bad match pattern"):
        QuerySequence().with_name_match("[z-a]")


def test_one_window_shape() -> None:
    assert TimeWindow.checked(1, 2, "w") == TimeWindow(1, 2)
    with pytest.raises(InvalidArgument, match="w: empty time window, start_ns 2 must be < end_ns 2"):
        TimeWindow.checked(2, 2, "w")
    assert TimeWindow.from_json({"start_ns": 1, "end_ns": None}, "w") == TimeWindow(1, None)
    with pytest.raises(InvalidArgument, match="'end_ns' must be an integer"):
        TimeWindow.from_json({"start_ns": 1, "end_ns": None}, "w", required=True)


def test_reply_documents_roundtrip() -> None:
    payload = {"items": [{"sequence": "run", "topics": [
        {"locator": "run/imu/front", "ontology_tag": "IMU"}]}]}  # fmt: skip
    reply = QueryReply.from_json(payload)
    assert reply.items[0].topics[0].topic == TopicLocator("run", "imu/front")
    assert reply.to_json() == payload
    page = {"id": 3, "ts": {"start_ns": 1, "end_ns": 4}}
    assert TimeCluster.from_json(page).to_json() == page
    with pytest.raises(InvalidArgument, match="not a topic locator|must have the form"):
        QueryReply.from_json({"items": [{"sequence": "s", "topics": [{"locator": "s"}]}]})
