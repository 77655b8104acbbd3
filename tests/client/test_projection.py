"""Projected reads through the client: ``get_data_streamer(fields=...)`` of a topic and of a
sequence, the columnar forms, and what iterating a projected stream gives."""

from __future__ import annotations

import warnings

import pyarrow as pa
import pytest

from mosaico import GPS, IMU, Image
from mosaico.client import Message, MosaicoClient, Unmodeled
from mosaico.errors import InputError
from mosaico.protocol.errors import InvalidArgument
from tests.client.client_data import MS, T0, gps, image, imu


def _record(client: MosaicoClient) -> None:
    with client.sequence_create("run", {}) as writer:
        topics = {"imu": (IMU, imu, 300), "gps": (GPS, gps, 40), "cam": (Image, image, 30)}
        for name, (kind, make, count) in topics.items():
            topic = writer.topic_create(name, {}, kind)
            for k in reversed(range(count)):
                topic.push(Message(T0 + 7 * MS * k // (count // 30), make(k)))
        writer.topic_create("empty", {}, GPS)  # no rows: left out, whatever the fields


def test_a_topic_read_projected(client: MosaicoClient) -> None:
    _record(client)
    handler = client.topic_handler("run", "imu")
    assert handler is not None
    full = handler.get_data_streamer().read_all()
    stream = handler.get_data_streamer(fields=["acceleration.x", "header.frame_id"])
    assert stream.projected
    table = stream.read_all()
    assert table.schema.names == ["timestamp_ns", "header", "acceleration"]
    assert table.schema.field("acceleration").type == pa.struct(
        [full.schema.field("acceleration").type.field("x")]
    )
    assert table.column("timestamp_ns").equals(full.column("timestamp_ns"))
    df = handler.get_data_streamer(T0 + 7 * MS, T0 + 70 * MS, ["acceleration"]).to_pandas()
    want = handler.get_data_streamer(T0 + 7 * MS, T0 + 70 * MS).to_pandas()
    assert list(df.columns) == ["timestamp_ns"] + [c for c in want if c.startswith("acceleration.")]
    assert df.equals(want[df.columns])
    stamps = handler.get_data_streamer(fields=[]).read_all()
    assert stamps.schema.names == ["timestamp_ns"] and stamps.num_rows == 300


def test_iterating_a_projected_stream_gives_partial_unmodeled_rows(client: MosaicoClient) -> None:
    _record(client)
    handler = client.topic_handler("run", "gps")
    assert handler is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asked for: no UnmodeledTypeWarning
        messages = list(handler.get_data_streamer(fields=["position.z", "status.satellites"]))
        empty = list(handler.get_data_streamer(end_timestamp_ns=T0 + 1, fields=[]))
    assert len(messages) == 40
    first = messages[0]
    assert isinstance(first.data, Unmodeled) and first.data.tag == "GPS"
    assert first.data.data == {"position": {"z": 120.0}, "status": {"satellites": 0}}
    assert empty == [Message(T0, Unmodeled("GPS", {}, empty[0].data.fingerprint))]
    typed = next(iter(handler.get_data_streamer()))  # unprojected: typed as before
    assert isinstance(typed.data, GPS)


def test_a_sequence_read_projected(client: MosaicoClient) -> None:
    _record(client)
    handler = client.sequence_handler("run")
    assert handler is not None
    per_topic = handler.get_data_streamer(fields={"/imu": ["acceleration.z"], "cam": []})
    assert [s.projected for s in per_topic.streams] == [True, False, True]
    wide = per_topic.to_pandas()
    full = handler.get_data_streamer().to_pandas()
    kept = ["timestamp_ns", "topic", "/imu.acceleration.z"]
    kept += [c for c in full.columns if c.startswith("/gps.")]
    assert list(wide.columns) == kept
    assert wide.equals(full[kept])
    imu_only = handler.get_data_streamer(["imu", "empty"], fields=["acceleration.y"])
    assert imu_only.topics == ["/imu"] and imu_only.streams[0].projected
    same = handler.get_data_streamer(["imu", "cam"], T0 + 35 * MS, None, fields=[])
    merged = same.read_all()
    assert same.topics == ["/imu", "/cam"]
    assert merged.schema.field("data").type.num_fields == 2
    assert merged.column("timestamp_ns").to_pylist() == sorted(
        t for t in full["timestamp_ns"][full["topic"] != "/gps"].tolist() if t >= T0 + 35 * MS
    )


def test_bad_projections_are_named(client: MosaicoClient) -> None:
    _record(client)
    handler = client.sequence_handler("run")
    assert handler is not None
    with pytest.raises(InvalidArgument, match=r"topic 'run/gps' has no field 'acceleration'"):
        handler.get_data_streamer(fields=["acceleration"])  # every topic must have it
    with pytest.raises(KeyError, match="nope"):
        handler.get_data_streamer(fields={"nope": []})
    with pytest.raises(InputError, match="list of dotted field paths"):
        handler.get_topic_handler("imu").get_data_streamer(fields="acceleration.x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="list of dotted field paths"):
        handler.get_data_streamer(fields={"imu": [""]})
