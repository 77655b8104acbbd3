"""The reference client ``mosaicolabs==0.7.0`` queries our server (the real Store and Flight
server, with the query actions parsed and dispatched like every action) and gets the answers of an
independent brute-force evaluation: every pushed row in pandas, filtered."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from mosaicolabs import (
    GPS,
    IMU,
    GPSStatus,
    Header,
    Message,
    MosaicoClient,
    Point3d,
    QueryOntologyCatalog,
    QuerySequence,
    QueryTopic,
    RobotJoint,
    Time,
    Vector3d,
)
from mosaicolabs.query import TimestampRange

import mosaico.types as ours
from mosaico.protocol.actions import PagedRequest, QueryRequest, encode_request
from mosaico.protocol.envelope import decode_envelope, decode_paged
from mosaico.query import QueryOntologyCatalog as OurCatalog
from mosaico.query import QuerySequence as OurSequence
from mosaico.query import calls
from mosaico.server.flight import MosaicoFlightServer
from mosaico.server.query.service import QueryService
from mosaico.server.store import Store, StoreConfig
from tests.server.query.query_helpers import walk_clusters

T0 = 1_700_000_000_000_000_000
STEP = 1_000_000
SEQUENCES = {
    "drive-a": {"vehicle": {"kind": "car", "id": 1}, "weather": ["rain", "fog"]},
    "drive-b": {"vehicle": {"kind": "car", "id": 2}, "visibility": 80},
    "walk-c": {"vehicle": {"kind": "legs"}, "visibility": 20},
}


class World(NamedTuple):
    client: MosaicoClient
    frames: dict[str, pd.DataFrame]  # brute-force view of every topic, by locator
    port: int
    store: Store


def _imu(seq: int, i: int) -> IMU:
    return IMU(
        header=None if i % 5 == 0 else Header(timestamp=Time(seconds=i, nanoseconds=0),
                                              frame_id=f"imu{seq}"),
        acceleration=Vector3d(x=float((i * 7 + seq * 3) % 20), y=float(i % 3), z=9.81),
        angular_velocity=Vector3d(x=0.0, y=0.0, z=float(seq)),
    )  # fmt: skip


def _gps(seq: int, i: int) -> GPS:
    return GPS(position=Point3d(x=45.0, y=9.0, z=float(i)),
               status=GPSStatus(status=1, service=1, satellites=None if i % 4 == 0 else
                                (i + seq) % 12))  # fmt: skip


def _joint(seq: int, i: int) -> RobotJoint:
    n = (i + seq) % 4
    return RobotJoint(names=[f"j{k}" for k in range(n)],
                      positions=[float((i + k * seq) % 9) for k in range(n)],
                      velocities=[0.0] * n, efforts=[0.0] * n)  # fmt: skip


BUILDERS: dict[str, tuple[Any, Callable[[int, int], Any], int]] = {
    "imu/front": (IMU, _imu, 240),
    "gps": (GPS, _gps, 60),
    "arm": (RobotJoint, _joint, 80),
}


def _rows(name: str, seq: int) -> list[tuple[int, Any]]:
    _, build, count = BUILDERS[name]
    step = STEP * (240 // count)
    return [(T0 + step * i + (i // 30) * 50 * STEP, build(seq, i)) for i in range(count)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    store = Store.open_local(str(tmp_path_factory.mktemp("query-store")),
                             StoreConfig(chunk_bytes=8 * 1024, row_group_bytes=2 * 1024))  # fmt: skip
    server = MosaicoFlightServer(store, "grpc://127.0.0.1:0")
    frames: dict[str, pd.DataFrame] = {}
    try:
        with MosaicoClient.connect("127.0.0.1", server.port, timeout=10) as client:
            for s, (sequence, metadata) in enumerate(SEQUENCES.items()):
                names = list(BUILDERS) if sequence != "walk-c" else ["imu/front"]
                with client.sequence_create(sequence, metadata) as writer:
                    for name in names:
                        cls = BUILDERS[name][0]
                        topic = writer.topic_create(name, {"sensor": name, "seq": s}, cls)
                        assert topic is not None
                        for ts, obj in _rows(name, s):
                            topic.push(Message(timestamp_ns=ts, data=obj))
                        frames[f"{sequence}/{name}"] = _frame(name, s)
            yield World(client, frames, server.port, store)
    finally:
        server.shutdown()
        store.close()


def _frame(name: str, seq: int) -> pd.DataFrame:
    """The brute-force view: every row of the topic as plain pandas columns."""
    records = []
    for ts, obj in _rows(name, seq):
        if name == "imu/front":
            records.append({"ts": ts, "ax": obj.acceleration.x, "ay": obj.acceleration.y,
                            "frame": obj.header.frame_id if obj.header else None})  # fmt: skip
        elif name == "gps":
            records.append({"ts": ts, "sats": obj.status.satellites})
        else:
            records.append({"ts": ts, "pos": list(obj.positions)})
    return pd.DataFrame.from_records(records)


def _answer(response: Any) -> dict[str, list[str]]:
    if response is None:
        return {}
    return {item.sequence.name: sorted(t.locator for t in item.topics) for item in response}


def _expected(frames: dict[str, pd.DataFrame], wanted: dict[str, Callable[[pd.DataFrame], Any]],
              sequences: Callable[[str], bool] = lambda s: True) -> dict[str, list[str]]:  # fmt: skip
    """§8.7 by brute force: per sequence, every topic kind must have a matching row."""
    out = {}
    for sequence in SEQUENCES:
        if not sequences(sequence):
            continue
        hits = []
        for name, predicate in wanted.items():
            locator = f"{sequence}/{name}"
            if locator in frames and predicate(frames[locator]).any():
                hits.append(locator)
        if len(hits) == len(wanted):
            out[sequence] = sorted(hits)
    return out


def test_metadata_queries(world: World) -> None:
    client, frames = world.client, world.frames
    every = {s: sorted(loc for loc in frames if loc.startswith(f"{s}/")) for s in SEQUENCES}
    assert _answer(client.query(QuerySequence().with_user_metadata("vehicle.kind", eq="car"))) == {
        s: every[s] for s in ("drive-a", "drive-b")}  # fmt: skip
    assert _answer(client.query(QuerySequence().with_user_metadata("visibility", lt=50))) == {
        "walk-c": every["walk-c"]}  # fmt: skip
    assert _answer(client.query(QuerySequence().with_user_metadata("weather", eq="fog"))) == {
        "drive-a": every["drive-a"]}  # fmt: skip
    assert _answer(client.query(QuerySequence().with_user_metadata("vehicle.id", ex=False))) == {
        "walk-c": every["walk-c"]}  # fmt: skip
    assert _answer(client.query(QuerySequence().with_name_match("drive-?"),
                                QueryTopic().with_name("gps"))) == {
        "drive-a": ["drive-a/gps"], "drive-b": ["drive-b/gps"]}  # fmt: skip
    assert _answer(client.query(QueryTopic().with_ontology_tag(RobotJoint.__name__)
                                .with_user_metadata("seq", geq=1))) == {
        "drive-b": ["drive-b/arm"]}  # fmt: skip


def test_content_and_list_queries(world: World) -> None:
    client, frames = world.client, world.frames
    cases: list[tuple[Any, dict[str, Callable[[pd.DataFrame], Any]]]] = [
        (IMU.Q.acceleration.x.gt(18.0), {"imu/front": lambda d: d.ax > 18.0}),
        (IMU.Q.acceleration.x.between(3.0, 3.0), {"imu/front": lambda d: d.ax == 3.0}),
        (IMU.Q.header.frame_id.match("imu[12]"), {"imu/front": lambda d: d.frame.isin(["imu1", "imu2"])}),
        (GPS.Q.status.satellites.eq(11), {"gps": lambda d: d.sats == 11}),
        (RobotJoint.Q.positions.any().geq(8.0),
         {"arm": lambda d: d.pos.map(lambda p: any(v >= 8.0 for v in p))}),
        (RobotJoint.Q.positions.all().geq(4.0),
         {"arm": lambda d: d.pos.map(lambda p: bool(p) and all(v >= 4.0 for v in p))}),
        (RobotJoint.Q.positions[2].eq(0.0),
         {"arm": lambda d: d.pos.map(lambda p: len(p) > 2 and p[2] == 0.0)}),
    ]  # fmt: skip
    for expression, wanted in cases:
        got = _answer(client.query(QueryOntologyCatalog(expression)))
        assert got == _expected(frames, wanted), expression


def test_multi_type_and_same_row(world: World) -> None:
    client, frames = world.client, world.frames
    query = QueryOntologyCatalog(IMU.Q.acceleration.x.geq(19.0), GPS.Q.status.satellites.geq(11))
    wanted = {"imu/front": lambda d: d.ax >= 19.0, "gps": lambda d: d.sats >= 11}
    assert _answer(client.query(query)) == _expected(frames, wanted)
    same_row = QueryOntologyCatalog(IMU.Q.acceleration.x.eq(19.0), IMU.Q.acceleration.y.eq(2.0))
    wanted = {"imu/front": lambda d: (d.ax == 19.0) & (d.ay == 2.0)}
    assert _answer(client.query(same_row)) == _expected(frames, wanted)


def test_chained_query(world: World) -> None:
    client, frames = world.client, world.frames
    first = client.query(QuerySequence().with_user_metadata("vehicle.kind", eq="car"))
    assert first is not None
    second = client.query(first.to_query_sequence(),
                          QueryOntologyCatalog(IMU.Q.acceleration.x.leq(0.0)))  # fmt: skip
    wanted = {"imu/front": lambda d: d.ax <= 0.0}
    assert _answer(second) == _expected(frames, wanted, lambda s: s.startswith("drive"))
    topics = client.query(QueryTopic().with_name("arm"))
    assert topics is not None
    chained = client.query(topics.to_query_topic())
    assert _answer(chained) == {"drive-a": ["drive-a/arm"], "drive-b": ["drive-b/arm"]}


def _overlaps(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The overlaps of two sorted lists of closed intervals, by a plain sweep."""
    expected = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start <= end:
            expected.append((start, end))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return expected


def _check_clusterize(imu: Any, imu_ts: list[int]) -> None:
    """The reference's clusterize of one topic equals the brute-force clusters, any dt."""
    for dt in (0, STEP, 3 * STEP, 60 * STEP):
        got = [(c.timerange.start, c.timerange.end) for c in imu.clusterize(dt)]
        assert got == walk_clusters(imu_ts, dt)
        assert [c.id for c in imu.clusterize(dt)] == list(range(len(got)))
    window = TimestampRange(start=T0 + 20 * STEP, end=T0 + 100 * STEP)
    got = [(c.timerange.start, c.timerange.end) for c in imu.clusterize(STEP, window)]
    assert got == walk_clusters([t for t in imu_ts if window.start <= t < window.end], STEP)


def test_clusterize_and_intersect(world: World) -> None:
    client, frames = world.client, world.frames
    response = client.query(QueryOntologyCatalog(IMU.Q.acceleration.x.geq(10.0),
                                                 GPS.Q.status.satellites.geq(5)),
                            QuerySequence().with_name("drive-b"))  # fmt: skip
    assert response is not None and len(response) == 1
    item = response[0]
    imu = next(t for t in item.topics if t.ontology_tag == "IMU")
    gps = next(t for t in item.topics if t.ontology_tag == "GPS")
    imu_ts = frames["drive-b/imu/front"].query("ax >= 10.0").ts.tolist()
    gps_ts = frames["drive-b/gps"].query("sats >= 5").ts.tolist()
    _check_clusterize(imu, imu_ts)
    # Intersect within the item, with the clusters computed by brute force.
    windows = [(c.timerange.start, c.timerange.end)
               for c in item.intersect(override_clustering_dt_ns=4 * STEP)]  # fmt: skip
    expected = _overlaps(walk_clusters(imu_ts, 4 * STEP), walk_clusters(gps_ts, 4 * STEP))
    assert windows == expected and windows
    single = [(c.timerange.start, c.timerange.end) for c in imu.intersect(gps)]
    assert single == [(max(imu_ts[0], gps_ts[0]), min(imu_ts[-1], gps_ts[-1]))]


def test_bad_requests_over_the_wire(world: World) -> None:
    frames, port = world.frames, world.port
    raw = flight.FlightClient(f"grpc://127.0.0.1:{port}")
    try:

        def action(name: str, body: bytes) -> list[Any]:
            return [
                json.loads(r.body.to_pybytes()) for r in raw.do_action(flight.Action(name, body))
            ]

        everything = action("query", b"{}")
        assert everything == [{"action": "query", "response": {"items": [
            {"sequence": s, "topics": [{"locator": loc, "ontology_tag": BUILDERS[loc.split("/", 1)[1]][0].__name__}
                                       for loc in sorted(loc for loc in frames if loc.startswith(f"{s}/"))]}
            for s in sorted(SEQUENCES)]}}]  # fmt: skip
        bad = [
            ("query", b'{"ontology": {"IMU.accel.x": {"$gt": 1}}}', pa.ArrowInvalid, "IMU.accel.x"),
            ("query", b'{"ontology": {"IMU.acceleration.x": {"$gt": "a"}}}', pa.ArrowInvalid,
             "IMU.acceleration.x"),
            ("query", b'{"sequence": {"name": {"$in": []}}}', pa.ArrowInvalid, "sequence.name"),
            ("query", b"{not json", pa.ArrowInvalid, "not valid JSON"),
            ("topic_filter_clusterize", b'{"locator": "drive-a/none", "clustering_dt_ns": 0}',
             pa.ArrowKeyError, "drive-a/none"),
            ("topic_filter_clusterize",
             b'{"locator": "drive-a/gps", "ontology": {"IMU.acceleration.x": {"$gt": 1.0}}}',
             pa.ArrowInvalid, "IMU.acceleration.x"),
        ]  # fmt: skip
        for name, body, error, message in bad:
            with pytest.raises(error, match=message):
                action(name, body)
        pages = action("topic_filter_clusterize", b'{"locator": "drive-a/gps", "ontology": {}}')
        assert pages == [{"action": "topic_filter_clusterize", "response": {
            "id": 0, "ts": {"start_ns": int(frames["drive-a/gps"].ts.min()),
                            "end_ns": int(frames["drive-a/gps"].ts.max())}}}]  # fmt: skip
    finally:
        raw.close()


def _upload_in_batches(port: int, sequence: str, tag: str, batches: list[pa.RecordBatch]) -> None:
    """A topic written over raw Flight, one batch per chunk (small batches, many chunks)."""
    raw = flight.FlightClient(f"grpc://127.0.0.1:{port}")

    def action(name: str, body: dict[str, Any]) -> Any:
        results = raw.do_action(flight.Action(name, json.dumps(body).encode()))
        return json.loads(b"".join(r.body.to_pybytes() for r in results))["response"]

    try:
        action("sequence_create", {"locator": sequence, "user_metadata": {}})
        session = action("session_create", {"locator": sequence})
        topic = action("topic_create", {
            "session_uuid": session["uuid"], "locator": f"{sequence}/data",
            "serialization_format": "default", "ontology_tag": tag, "user_metadata": {}})  # fmt: skip
        descriptor = flight.FlightDescriptor.for_command(
            json.dumps({"resource_locator": f"{sequence}/data", "topic_uuid": topic["uuid"]})
        )
        writer, _ = raw.do_put(descriptor, batches[0].schema)
        for batch in batches:
            writer.write_batch(batch)
        writer.close()
        action("session_finalize", {"session_uuid": session["uuid"]})
    finally:
        raw.close()


def test_selective_query_prunes_chunks(world: World) -> None:
    rows = [(T0 + i * STEP, ours.IMU(acceleration=ours.Vector3d(x=float(i), y=0.0, z=0.0),
                                     angular_velocity=ours.Vector3d(x=0.0, y=0.0, z=0.0)))
            for i in range(2000)]  # fmt: skip
    batches = [
        ours.IMU.to_batch([obj for _, obj in rows[k : k + 100]], [t for t, _ in rows[k : k + 100]])
        for k in range(0, len(rows), 100)
    ]
    _upload_in_batches(world.port, "many-chunks", "IMU", batches)
    service = QueryService(world.store)
    payload = service.query(
        {
            "sequence": {"name": {"$eq": "many-chunks"}},
            "ontology": {"IMU.acceleration.x": {"$between": [1550.0, 1560.0]}},
        }
    )
    assert payload["items"] == [{"sequence": "many-chunks", "topics": [
        {"locator": "many-chunks/data", "ontology_tag": "IMU"}]}]  # fmt: skip
    assert (service.counters.chunks_read, service.counters.chunks_pruned) == (1, 15)
    clusters = service.clusterize(
        {
            "locator": "many-chunks/data",
            "clustering_dt_ns": STEP,
            "ontology": {"IMU.acceleration.x": {"$outside": [10.0, 1989.0]}},
        }
    )
    assert [c["ts"] for c in clusters] == [
        {"start_ns": T0, "end_ns": T0 + 9 * STEP},
        {"start_ns": T0 + 1990 * STEP, "end_ns": T0 + 1999 * STEP},
    ]


def test_our_client_side_agrees_with_the_reference(world: World) -> None:
    client, port = world.client, world.port
    raw = flight.FlightClient(f"grpc://127.0.0.1:{port}")

    def results(name: str, body: bytes) -> Iterator[bytes]:
        return (r.body.to_pybytes() for r in raw.do_action(flight.Action(name, body)))

    def send(request: QueryRequest) -> Any:
        name, body = encode_request(request)
        return decode_envelope(name, results(name, body))

    def send_paged(request: PagedRequest) -> list[Any]:
        name, body = encode_request(request)
        return decode_paged(name, results(name, body))

    try:
        mine = calls.query(
            send,
            OurSequence().with_user_metadata("vehicle.kind", eq="car"),
            OurCatalog(ours.IMU.Q.acceleration.x.geq(15.0), ours.GPS.Q.status.satellites.geq(8)),
        )
        theirs = client.query(
            QuerySequence().with_user_metadata("vehicle.kind", eq="car"),
            QueryOntologyCatalog(IMU.Q.acceleration.x.geq(15.0), GPS.Q.status.satellites.geq(8)),
        )
        assert mine is not None and theirs is not None
        assert {i.sequence: sorted(t.locator for t in i.topics) for i in mine.items} == _answer(
            theirs
        )
        assert mine.items
        for item, ref_item in zip(mine.items, theirs):
            for topic, ref_topic in zip(item.topics, ref_item.topics):
                for dt in (0, 2 * STEP):
                    got = [(c.start_ns, c.end_ns) for c in calls.clusterize(send_paged, topic, dt)]
                    ref = [(c.timerange.start, c.timerange.end) for c in ref_topic.clusterize(dt)]
                    assert got == ref and got
            got = [(c.start_ns, c.end_ns) for c in calls.intersect(send_paged, item.topics, STEP)]
            ref = [
                (c.timerange.start, c.timerange.end)
                for c in ref_item.intersect(override_clustering_dt_ns=STEP)
            ]
            assert got == ref
        chained = calls.query(send, mine.to_query_sequence(), mine.to_query_topic())
        assert chained is not None
        assert [i.sequence for i in chained.items] == [i.sequence for i in mine.items]
    finally:
        raw.close()
