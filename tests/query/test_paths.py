"""`Q`: content queries on topics without a generated type, against a real embedded store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from mosaico import IMU
from mosaico.client import MosaicoClient
from mosaico.ontology import UnknownFieldError
from mosaico.protocol.errors import InvalidArgument
from mosaico.query import Q, QueryBuildError, QueryOntologyCatalog, QuerySequence
from tests.backends import Backend
from tests.query.query_store import HIGH, MS, POSE, POSE_TAG, make_store


@pytest.fixture(scope="module")
def client(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosaicoClient]:
    folder = make_store(backend, Path(tmp_path_factory.mktemp("store")))
    with backend.client(folder) as client:
        yield client


def _hits(client: MosaicoClient, *builders: object) -> list[tuple[str, str]]:
    response = client.query(*builders)  # type: ignore[arg-type]
    assert response is not None
    return sorted((i.sequence, t.name) for i in response.items for t in i.topics)


def test_an_untyped_tag_is_queried_like_a_generated_type(client: MosaicoClient) -> None:
    by_tag = QueryOntologyCatalog(Q(POSE_TAG).pose.position.z.gt(1.0))
    assert _hits(client, by_tag) == [("drive-001", "/pose")]
    by_type = QueryOntologyCatalog(Q(POSE).at("pose.position.z").geq(2.0))
    assert _hits(client, by_type) == [("drive-001", "/pose")]
    string = QueryOntologyCatalog(Q(POSE_TAG).frame_id.match("ma*"))
    assert len(_hits(client, string)) == 3
    # Typed and untyped conditions together: a sequence needs a match for each tag.
    both = QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0), Q(POSE_TAG).pose.position.z.gt(1.0))
    assert _hits(client, both) == [("drive-001", "/imu"), ("drive-001", "/pose")]


def test_untyped_conditions_clusterize(client: MosaicoClient) -> None:
    response = client.query(QueryOntologyCatalog(Q(POSE_TAG).pose.position.z.gt(1.0)))
    assert response is not None
    (cluster,) = client.clusterize(response.items[0].topics[0], clustering_dt_ns=100 * MS)
    assert (cluster.start_ns, cluster.end_ns) == (HIGH[0] * 20 * MS, HIGH[-1] * 20 * MS)


def test_q_of_a_registered_tag_or_type_is_the_generated_proxy() -> None:
    assert Q("IMU") is IMU.Q and Q(IMU) is IMU.Q and Q(IMU.topic_type()) is IMU.Q
    with pytest.raises(UnknownFieldError, match="IMU.acceleration has no field 'q'"):
        Q("IMU").acceleration.q  # noqa: B018


def test_with_a_schema_paths_and_operators_are_checked() -> None:
    with pytest.raises(
        UnknownFieldError, match=r"my_msgs/msg/Pose.pose has no field 'nope' \(fields: position\)"
    ):
        Q(POSE).pose.nope  # noqa: B018
    with pytest.raises(QueryBuildError, match="operator 'match' is not available for a double"):
        Q(POSE).pose.position.z.match("1*")
    schema = pa.schema([pa.field("rpm", pa.float32())])  # the payload alone is enough
    assert Q("Wheel", schema).rpm.lt(3.0).key == "Wheel.rpm"
    with pytest.raises(QueryBuildError, match="'rpm' cannot be compared with a float leaf"):
        Q("Wheel", schema).rpm.eq("rpm")


def test_without_a_schema_the_operand_picks_the_operators() -> None:
    pose = Q(POSE_TAG)
    assert pose.at("pose.covariance[?]").between(0.0, 1.0).key == f"{POSE_TAG}.pose.covariance[?]"
    assert pose.frame_id.in_("map", "odom").operand == ["map", "odom"]
    with pytest.raises(
        QueryBuildError, match=f"{POSE_TAG}.frame_id: match takes string operands, got 3"
    ):
        pose.frame_id.match(3)
    with pytest.raises(QueryBuildError, match="gt takes number or string operands, got True"):
        pose.flag.gt(True)
    with pytest.raises(QueryBuildError, match="in_ values must all be numbers, got \\[1, 'a'\\]"):
        pose.x.in_(1, "a")
    with pytest.raises(QueryBuildError, match="compare one of its fields, not the topic"):
        pose.eq(1)
    with pytest.raises(QueryBuildError, match="a query tag is a non-empty string without '.'"):
        Q("bad.tag")


def test_the_server_checks_untyped_paths_against_the_stored_schema(
    client: MosaicoClient,
) -> None:
    with pytest.raises(InvalidArgument, match=f"{POSE_TAG}.pose.nope: unknown field"):
        client.query(QueryOntologyCatalog(Q(POSE_TAG).pose.nope.gt(1.0)))
    with pytest.raises(InvalidArgument, match="unknown ontology tag 'other/Tag'"):
        client.query(QuerySequence(), QueryOntologyCatalog(Q("other/Tag").a.gt(1.0)))
