"""Response parsing, chaining (§8.8) and the temporal filters' request bodies (§9)."""

from __future__ import annotations

import pytest

from mosaico.query import (
    Query,
    QueryOntologyCatalog,
    QueryResponse,
    ResponseError,
    TimeCluster,
    clusterize_request,
    intersect_request,
    parse_clusters,
)
from mosaico.types import GPS, IMU

PAYLOAD = {
    "items": [
        {"sequence": "run-001",
         "topics": [{"locator": "run-001/imu/front", "ontology_tag": "IMU"},
                    {"locator": "run-001/gps", "ontology_tag": "GPS", "extra": 1}]},
        {"sequence": "run-002", "topics": [{"locator": "run-002/imu/front", "ontology_tag": "IMU"}]},
    ]
}  # fmt: skip


def test_parse_and_chain() -> None:
    query = Query(
        QueryOntologyCatalog(IMU.Q.acceleration.x.gt(5.0), GPS.Q.status.satellites.geq(4))
    )
    response = QueryResponse.from_payload(PAYLOAD, query.ontology)
    assert len(response) == 2 and not response.is_empty()
    first = response.items[0]
    assert first.sequence == "run-001"
    assert [t.name for t in first.topics] == ["/imu/front", "/gps"]
    assert first.topics[0].sequence == "run-001"
    assert first.topics[0].ontology == {"IMU.acceleration.x": {"$gt": 5.0}}
    assert first.topics[1].ontology == {"GPS.status.satellites": {"$geq": 4}}
    assert response.to_query_sequence().to_json() == {"name": {"$in": ["run-001", "run-002"]}}
    # Names deduplicated, in /path form, without a sequence restriction.
    assert response.to_query_topic().to_json() == {"name": {"$in": ["/imu/front", "/gps"]}}


def test_empty_response() -> None:
    response = QueryResponse.from_payload({"items": []})
    assert response.is_empty()


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"items": {}}, {"items": [{"topics": []}]}, {"items": [{"sequence": "s"}]},
     {"items": [{"sequence": "s", "topics": [{"locator": "s", "ontology_tag": "IMU"}]}]},
     {"items": [{"sequence": "s", "topics": [{"locator": "s/t"}]}]}],
)  # fmt: skip
def test_malformed_responses(payload: object) -> None:
    with pytest.raises(ResponseError):
        QueryResponse.from_payload(payload)


def test_clusterize_and_intersect_bodies() -> None:
    response = QueryResponse.from_payload(
        PAYLOAD, {"IMU.acceleration.x": {"$gt": 18.5}, "GPS.status.satellites": {"$geq": 4}}
    )
    imu = response.items[0].topics[0]
    clusterize = imu.clusterize_request(6000000, (1, 4611686018427387904))
    assert (clusterize.action.value, clusterize.to_json()) == (
        "topic_filter_clusterize",
        {"locator": "run-001/imu/front", "clustering_dt_ns": 6000000,
         "ontology": {"IMU.acceleration.x": {"$gt": 18.5}},
         "timestamp_range": {"start_ns": 1, "end_ns": 4611686018427387904}},
    )  # fmt: skip
    assert clusterize_request("a/b", {}).to_json() == {
        "locator": "a/b", "clustering_dt_ns": 0, "ontology": {}, "timestamp_range": None
    }  # fmt: skip
    intersect = response.items[0].intersect_request(clustering_dt_ns=1000, intersect_dt_ns=10)
    name, body = intersect.action.value, intersect.to_json()
    assert name == "topic_filter_intersect"
    assert body == {
        "topics": [
            {"locator": "run-001/imu/front", "clustering_dt_ns": 1000,
             "ontology": {"IMU.acceleration.x": {"$gt": 18.5}}},
            {"locator": "run-001/gps", "clustering_dt_ns": 1000,
             "ontology": {"GPS.status.satellites": {"$geq": 4}}},
        ],
        "intersect_dt_ns": 10,
    }  # fmt: skip
    assert len(response.items[1].clusterize_all_requests()) == 1
    with pytest.raises(ValueError, match="start < end"):
        clusterize_request("a/b", {}, 0, (5, 5))
    with pytest.raises(ValueError, match="at least one topic"):
        intersect_request([])


def test_parse_clusters() -> None:
    pages = [
        {"id": 0, "ts": {"start_ns": 1, "end_ns": 4}},
        {"id": 1, "ts": {"start_ns": 9, "end_ns": 9}},
    ]
    assert parse_clusters(pages) == [TimeCluster(0, 1, 4), TimeCluster(1, 9, 9)]
    assert parse_clusters([]) == []
    with pytest.raises(ResponseError, match="start_ns"):
        parse_clusters([{"id": 0, "ts": {"start_ns": "1", "end_ns": 4}}])
    with pytest.raises(ResponseError):
        parse_clusters([{"id": 0}])
