"""The deployment users copy: three `mosaico serve` replicas over one PostgreSQL catalog and
one chunk storage (an S3 bucket, or a shared folder) behind HAProxy, started by the shipped
``deploy/replicas.sh``.

Every replica is a real process; every request goes over loopback, through HAProxy or to
one replica directly, so a session can be created on one, uploaded through a second and
finalized through a third, and a ticket issued by one can be read from another.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico import IMU, Message, MosaicoClient, Vector3d
from tests.scale.replicas import Replicas, replicas
from tests.server.server_helpers import Raw, make_batch

REPLICAS = 3
LEASE_S = 2.0


class Deployment(Replicas):
    """The deployment with raw Flight clients to HAProxy or to one replica."""

    def raw(self, port: int | None = None) -> Raw:
        """A raw Flight client through HAProxy, or to one replica."""
        return Raw(flight.FlightClient(f"grpc://127.0.0.1:{port or self.port}"))


@pytest.fixture(params=["s3", "folder"])
def deployment(
    request: pytest.FixtureRequest, tmp_path: Path, catalog_url: str
) -> Iterator[Deployment]:
    """Three replicas over one PostgreSQL catalog, their chunk files in an RGW bucket or
    in one folder they all see (as on a shared filesystem)."""
    if request.param == "s3":
        store = request.getfixturevalue("s3_store")
    else:
        store = str(tmp_path / "chunks")
    lease = ("--server-lease", str(LEASE_S))
    with replicas(tmp_path / "deployment", store, catalog_url, REPLICAS, *lease) as running:
        yield Deployment(running.folder, running.port, running.count)


def _imu(i: int) -> Message:
    value = IMU(acceleration=Vector3d(x=float(i), y=0.0, z=9.81), angular_velocity=Vector3d(
        x=0.0, y=0.0, z=float(i)))  # fmt: skip
    return Message(timestamp_ns=i * 1_000_000, data=value)


def test_clients_through_haproxy_use_every_replica(deployment: Deployment) -> None:
    """Nine clients, each a new connection: round robin puts three on each replica, and
    each reads back what it and the others wrote."""
    for n in range(3 * REPLICAS):
        with (
            MosaicoClient.connect("127.0.0.1", deployment.port, timeout=10) as client,
            client.sequence_create(f"run-{n}", {"n": n}) as writer,
        ):
            topic = writer.topic_create("/imu", {}, IMU)
            for i in range(500):
                topic.push(_imu(i))
    with MosaicoClient.connect("127.0.0.1", deployment.port, timeout=10) as client:
        assert sorted(client.list_sequences()) == sorted(f"run-{n}" for n in range(3 * REPLICAS))
        frame = client.sequence_handler("run-4").get_topic_handler("/imu").get_data_streamer().to_pandas()
        assert len(frame) == 500
    served = [deployment.log(i).count("sequence.create ") for i in range(1, REPLICAS + 1)]
    assert served == [REPLICAS] * REPLICAS, served


def test_a_session_spans_three_replicas_and_tickets_work_anywhere(
    deployment: Deployment,
) -> None:
    first, second, third = (deployment.raw(deployment.replica_port(i)) for i in (1, 2, 3))
    session = first.new_sequence("spread", {"by": "first"})
    topic = second.new_topic(session, "spread/imu")
    second.put("spread/imu", topic, [make_batch(list(range(1000)))])
    third.action("session_finalize", {"session_uuid": session["uuid"]})
    info = first.info("spread/imu")  # a ticket from the first replica ...
    for raw in (second, third, deployment.raw()):  # ... read from the others
        table = raw.client.do_get(info.endpoints[0].ticket).read_all()
        assert table.column("timestamp_ns").to_pylist() == list(range(1000))
    meta = json.loads(third.info("spread").app_metadata)
    assert meta["sessions"][0]["locked"] is True
    assert meta["user_metadata"] == {"by": "first"}


def test_killing_a_replica_mid_upload_leaves_the_others_serving(deployment: Deployment) -> None:
    victim = deployment.raw(deployment.replica_port(2))
    session = victim.new_sequence("cut", {})
    topic = victim.new_topic(session, "cut/imu")
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"resource_locator": "cut/imu", "topic_uuid": topic})
    )
    writer, _ = victim.client.do_put(descriptor, make_batch([0]).schema)
    writer.write_batch(make_batch(list(range(100))))
    survivor = deployment.raw(deployment.replica_port(1))
    while not survivor.client.get_schema(
        flight.FlightDescriptor.for_command(json.dumps({"resource_locator": "cut/imu"}))
    ).schema.names:  # claimed: the upload is streaming on the victim
        time.sleep(0.02)
    os.kill(deployment.pid(2), signal.SIGKILL)
    # A connection HAProxy makes while the process is dying is accepted then reset (the
    # client gets UNAVAILABLE, as from any crash); from the moment it is gone, HAProxy
    # redispatches what it cannot connect, and every request succeeds.
    while Path(f"/proc/{deployment.pid(2)}").exists():
        time.sleep(0.01)

    through_haproxy = deployment.raw()
    for _ in range(2 * REPLICAS):  # new connections, whichever replica HAProxy picks
        raw = deployment.raw()
        assert "cut" in [f.descriptor.path[0].decode() for f in raw.client.list_flights()]
        raw.client.close()
    meta = json.loads(through_haproxy.info("cut").app_metadata)
    assert meta["sessions"][0]["locked"] is False  # the unfinished session is visible
    deadline = time.monotonic() + 10 * LEASE_S
    while True:  # once the victim's lease has passed, a survivor fails its upload
        notes = through_haproxy.action("topic_notification_list", {"locator": "cut/imu"})
        if notes["notifications"]:
            break
        assert time.monotonic() < deadline, "no replica took over the dead one's upload"
        time.sleep(0.2)
    assert "interrupted" in notes["notifications"][0]["msg"]
    through_haproxy.action("session_delete", {"locator": meta["sessions"][0]["locator"]})
    with pytest.raises(pa.ArrowKeyError):
        through_haproxy.info("cut/imu")
