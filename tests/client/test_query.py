"""client.query / clusterize / intersect against our server, checked by brute force."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mosaico.client import Message, MosaicoClient
from mosaico.ontology import Expression
from mosaico.protocol.errors import InvalidArgument
from mosaico.query import Query, QueryBuildError, QueryOntologyCatalog, QuerySequence, QueryTopic
from mosaico.types import GPS, IMU, Point3d, RobotJoint, Vector3d
from tests.backends import Backend

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
RUNS = {"run-a": "alpha", "run-b": "alpha", "walk-c": "beta"}


def _accel_x(run: int, i: int) -> float:
    # Run 0 spikes above 4 m/s^2 in two bursts (rows 10-14 and 40-44), run 1 never does.
    return 5.0 if run == 0 and (10 <= i < 15 or 40 <= i < 45) else float(i % 3)


@pytest.fixture(scope="module")
def client(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosaicoClient]:
    with backend.client(tmp_path_factory.mktemp("query") / "store") as client:
        for run, (name, vehicle) in enumerate(RUNS.items()):
            with client.sequence_create(name, {"vehicle": {"id": vehicle}, "run": run}) as w:
                imu = w.topic_create("imu", {"model": "xsens"}, IMU)
                for i in range(60):
                    data = IMU(
                        acceleration=Vector3d(x=_accel_x(run, i), y=0.0, z=9.8),
                        angular_velocity=Vector3d(x=0.0, y=0.0, z=0.0),
                    )
                    imu.push(Message(T0 + i * 10 * MS, data))
                gps = w.topic_create("gps", {}, GPS)
                for i in range(6):
                    gps.push(
                        Message(
                            T0 + i * 100 * MS,
                            GPS(position=Point3d(x=45.0, y=9.0, z=float(run * 100 + i))),
                        )
                    )
                if run == 2:
                    arm = w.topic_create("arm", {}, RobotJoint)
                    arm.push(
                        Message(
                            T0,
                            RobotJoint(
                                names=["a"], positions=[1.5], velocities=[0.0], efforts=[0.0]
                            ),
                        )
                    )
        yield client


def _found(response) -> dict[str, list[str]]:
    return {item.sequence: sorted(t.name for t in item.topics) for item in response.items}


def test_metadata_and_name_filters(client: MosaicoClient) -> None:
    alpha = client.query(QuerySequence().with_user_metadata("vehicle.id", eq="alpha"))
    assert _found(alpha) == {"run-a": ["/gps", "/imu"], "run-b": ["/gps", "/imu"]}
    runs = client.query(QuerySequence().with_name_match("run-*"), QueryTopic().with_name("/imu"))
    assert _found(runs) == {"run-a": ["/imu"], "run-b": ["/imu"]}
    assert _found(client.query()) == {
        "run-a": ["/gps", "/imu"], "run-b": ["/gps", "/imu"], "walk-c": ["/arm", "/gps", "/imu"],
    }  # fmt: skip


def test_content_queries_and_chaining(client: MosaicoClient) -> None:
    hot = client.query(QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0)))
    assert _found(hot) == {"run-a": ["/imu"]}
    both = client.query(
        QueryOntologyCatalog(IMU.Q.acceleration.z.geq(9.0), RobotJoint.Q.positions.any().gt(1.0))
    )
    assert _found(both) == {"walk-c": ["/arm", "/imu"]}  # sequences in every tag; topics united
    chained = client.query(hot.to_query_sequence(), QueryTopic().with_ontology_tag("GPS"))
    assert _found(chained) == {"run-a": ["/gps"]}
    assert client.query(QueryOntologyCatalog(IMU.Q.acceleration.x.gt(100.0))).items == ()


def test_clusterize_and_intersect(client: MosaicoClient) -> None:
    hot = client.query(QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0)))
    topic = hot.items[0].topics[0]
    bursts = client.clusterize(topic, clustering_dt_ns=20 * MS)
    assert [(c.start_ns, c.end_ns) for c in bursts] == [
        (T0 + 100 * MS, T0 + 140 * MS), (T0 + 400 * MS, T0 + 440 * MS),
    ]  # fmt: skip
    assert len(client.clusterize(topic)) == 1  # dt 0: one range over every match
    late = client.clusterize(topic, 20 * MS, (T0 + 300 * MS, T0 + 10_000 * MS))
    assert [(c.start_ns, c.end_ns) for c in late] == [(T0 + 400 * MS, T0 + 440 * MS)]
    gps = client.query(
        QuerySequence().with_name("run-a"), QueryOntologyCatalog(GPS.Q.position.z.between(3.0, 5.0))
    )
    windows = client.intersect([topic, gps.items[0].topics[0]], clustering_dt_ns=100 * MS)
    assert [(w.start_ns, w.end_ns) for w in windows] == [(T0 + 400 * MS, T0 + 440 * MS)]


def test_bad_query_names_the_key(client: MosaicoClient) -> None:
    unknown = Expression(tag="Nope", path="x", op="$gt", operand=1)
    with pytest.raises(InvalidArgument, match="Nope"):
        client.query(QueryOntologyCatalog(unknown))


def test_a_whole_query_is_accepted_like_its_builders(client: MosaicoClient) -> None:
    builders = (
        QuerySequence().with_user_metadata("run", eq=0),
        QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0)),
    )
    direct = client.query(*builders)
    whole = client.query(Query(*builders))
    assert direct is not None and whole is not None and len(direct) == 1
    assert whole.items == direct.items
    with pytest.raises(QueryBuildError, match="already has a sequence builder"):
        Query(Query(*builders), QuerySequence().with_name("x"))
