"""Unified and targeted streams: order, ties, windows, filters, columnar forms."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mosaico import GPS, IMU, Image
from mosaico.client import Message, MosaicoClient
from tests.client.client_data import MS, T0, gps, image, imu


def _record(client: MosaicoClient, name: str) -> dict[str, list[Message]]:
    """Three topics with interleaved, tied and unsorted timestamps, plus an empty topic."""
    topics = {
        "imu": [Message(T0 + MS * k, imu(k)) for k in reversed(range(400))],
        "gps": [Message(T0 + 10 * MS * (k // 2), gps(k)) for k in range(80)],  # pairs of ties
        "cam": [Message(T0 + 7 * MS * k, image(k)) for k in range(60)],
    }
    types = {"imu": IMU, "gps": GPS, "cam": Image}
    with client.sequence_create(name, {}) as writer:
        for topic, messages in topics.items():
            tw = writer.topic_create(topic, {}, types[topic])
            for m in messages:
                tw.push(m)
        writer.topic_create("empty", {}, IMU)
    return topics


def _expected(topics: dict[str, list[Message]], lo: int | None = None, hi: int | None = None,
              only: list[str] | None = None) -> list[tuple[str, Message]]:  # fmt: skip
    rows = []
    for rank, (name, messages) in enumerate(topics.items()):
        if only is not None and name not in only:
            continue
        for seq, m in enumerate(sorted(messages, key=lambda m: m.timestamp_ns)):
            if (lo is None or m.timestamp_ns >= lo) and (hi is None or m.timestamp_ns < hi):
                rows.append((m.timestamp_ns, rank, seq, "/" + name, m))
    return [(name, m) for *_, name, m in sorted(rows, key=lambda r: r[:3])]


# The backend is named for the fixture requested by name to be parametrised over it.
@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("fixture", ["client", "small"])
def test_unified_stream_is_strictly_ordered_with_stable_ties(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    client: MosaicoClient = request.getfixturevalue(fixture)
    topics = _record(client, "merge")
    handler = client.sequence_handler("merge")
    assert handler is not None
    assert list(handler.get_data_streamer()) == _expected(topics)
    lo, hi = T0 + 35 * MS, T0 + 200 * MS
    windowed = handler.get_data_streamer(start_timestamp_ns=lo, end_timestamp_ns=hi)
    assert windowed.topics == ["/imu", "/gps", "/cam"]
    assert list(windowed) == _expected(topics, lo, hi)
    picked = handler.get_data_streamer(topics=["gps", "/cam"], start_timestamp_ns=lo)
    assert list(picked) == _expected(topics, lo, None, ["gps", "cam"])
    late = handler.get_data_streamer(start_timestamp_ns=T0 + 400 * MS)
    assert late.topics == ["/cam"]  # topics without rows in the window are left out
    with pytest.raises(KeyError, match="nope"):
        handler.get_data_streamer(topics=["nope"])
    with pytest.raises(ValueError, match="empty time window"):
        handler.get_data_streamer(start_timestamp_ns=hi, end_timestamp_ns=lo)


def _check_wide(
    handler: Any, schema: pa.Schema, expected: list[Any], classes: dict[str, Any],
    decoded: dict[str, list[object]],
) -> None:  # fmt: skip
    """wide_batches(): one struct column per topic, null on the other topics' rows."""
    wide = pa.Table.from_batches(list(handler.get_data_streamer().wide_batches()), schema=schema)
    assert wide.schema.names == ["timestamp_ns", "topic", "/imu", "/gps", "/cam"]
    for name, cls in classes.items():
        column = wide.column(name).combine_chunks()
        mine = column.filter(pa.array([n == name for n, _ in expected]))
        assert column.null_count == len(expected) - len(mine)
        assert cls.from_arrow(mine) == decoded[name]


# The backend is named for the fixture requested by name to be parametrised over it.
@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("fixture", ["client", "small"])
def test_unified_batches_match_the_typed_view(fixture: str, request: pytest.FixtureRequest) -> None:
    client: MosaicoClient = request.getfixturevalue(fixture)
    topics = _record(client, "wide")
    handler = client.sequence_handler("wide")
    assert handler is not None
    expected = _expected(topics)
    stream = handler.get_data_streamer()
    table = stream.read_all()
    assert table.schema.names == ["timestamp_ns", "topic", "data"]
    assert table.column("timestamp_ns").to_pylist() == [m.timestamp_ns for _, m in expected]
    assert table.column("topic").to_pylist() == [name for name, _ in expected]
    decoded: dict[str, list[object]] = {"/imu": [], "/gps": [], "/cam": []}
    classes = {"/imu": IMU, "/gps": GPS, "/cam": Image}
    for chunk in table.column("data").chunks:  # dense union: child i = topic i, in order
        ids, offsets = chunk.type_codes.to_numpy(), chunk.offsets.to_numpy()
        for i, name in enumerate(stream.topics):
            rows = chunk.field(i).take(pa.array(offsets[ids == i]))
            decoded[name] += classes[name].from_arrow(rows)
    for name, objs in decoded.items():
        assert objs == [m.data for n, m in expected if n == name]
    _check_wide(handler, stream.wide_schema, expected, classes, decoded)
    frame = handler.get_data_streamer(topics=["gps"]).to_pandas()
    assert len(frame) == 80 and "/gps.position.x" in frame.columns
    assert np.all(np.diff(frame["timestamp_ns"].to_numpy()) >= 0)


def test_targeted_stream_windows_and_columnar_forms(small: MosaicoClient) -> None:
    topics = _record(small, "single")
    handler = small.topic_handler("single", "imu")
    assert handler is not None
    everything = list(handler.get_data_streamer())
    assert everything == sorted(topics["imu"], key=lambda m: m.timestamp_ns)
    lo, hi = T0 + 100 * MS, T0 + 150 * MS
    assert [m.timestamp_ns for m in handler.get_data_streamer(lo, hi)] == list(range(lo, hi, MS))
    assert list(handler.get_data_streamer(T0 + 10_000 * MS)) == []
    batches = list(handler.get_data_streamer(lo).batches())
    assert len(batches) > 1 and all(b.num_rows for b in batches)  # the small server pages
    frame = handler.get_data_streamer(end_timestamp_ns=hi).to_pandas()
    assert len(frame) == 150 and frame["acceleration.y"].tolist() == [float(k) for k in range(150)]
    table = handler.get_data_streamer().read_all()
    assert table.schema.equals(IMU.ARROW_SCHEMA) and table.num_rows == 400


def test_empty_topic_and_empty_sequence(client: MosaicoClient) -> None:
    with client.sequence_create("hollow", {}) as writer:
        writer.topic_create("empty", {}, IMU)
    handler = client.sequence_handler("hollow")
    assert handler is not None and handler.timestamp_ns_min is None
    stream = handler.get_data_streamer()
    assert stream.topics == [] and list(stream) == [] and stream.read_all().num_rows == 0
    topic = handler.get_topic_handler("empty")
    assert list(topic.get_data_streamer()) == []


def test_many_topics(client: MosaicoClient) -> None:
    from mosaico import Floating64

    with client.sequence_create("many", {}) as writer:
        for k in range(130):  # all 130 uploads stay open at once
            topic = writer.topic_create(f"ch/{k:03d}", {}, Floating64)
            topic.push(Message(T0 + (130 - k), Floating64(data=float(k))))
    handler = client.sequence_handler("many")
    assert handler is not None and len(handler.topics) == 130
    merged = list(handler.get_data_streamer())
    assert [m.data.data for _, m in merged] == [float(k) for k in reversed(range(130))]
    wide = list(handler.get_data_streamer().wide_batches())
    assert sum(b.num_rows for b in wide) == 130 and wide[0].num_columns == 132
    with pytest.raises(ValueError, match="select fewer topics"):
        handler.get_data_streamer().read_all()
    some = handler.get_data_streamer(topics=[f"ch/{k:03d}" for k in range(100)]).read_all()
    assert some.num_rows == 100 and some.column("topic")[0].as_py() == "/ch/099"
