"""Topics without a generated type (a generic ROS message, a hand-built TopicType) in the ML
module, read from a real embedded store: quaternion detection and slerp, other time keys."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from mosaico.ml import (
    Hold,
    Interpolate,
    MLInputError,
    Stream,
    TableSource,
    TopicSource,
    iter_synchronized,
    synchronize,
)
from mosaico.ml.client_source import sequence_sources
from mosaico.ml.datasets import StreamDataset, WindowDataset
from mosaico.protocol import TopicType
from tests.backends import Backend

_F64 = pa.float64()
_XYZ = pa.struct([pa.field(c, _F64) for c in "xyz"])
_QUAT = pa.struct([pa.field(c, _F64) for c in "xyzw"])
POSE = TopicType(
    "my_msgs/msg/Pose",
    pa.schema(
        [
            pa.field("timestamp_ns", pa.int64(), nullable=False),
            pa.field(
                "header",
                pa.struct(
                    [
                        pa.field(
                            "stamp",
                            pa.struct(
                                [pa.field("sec", pa.int32()), pa.field("nanosec", pa.uint32())]
                            ),
                        ),
                        pa.field("frame_id", pa.string()),
                    ]
                ),
            ),  # fmt: skip
            pa.field(
                "pose", pa.struct([pa.field("position", _XYZ), pa.field("orientation", _QUAT)])
            ),  # fmt: skip
            pa.field("att", _QUAT),  # a quaternion whose name does not say so
            pa.field("meas_time_ns", pa.int64()),
        ]
    ),
)
N = 50
LAG_NS = 207_000_000  # logged 207 ms after the measurement
MEAS = np.arange(N, dtype=np.int64) * 100_000_000 + 1_000_000_000  # measurement times


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _quat(q: np.ndarray) -> pa.StructArray:
    return pa.StructArray.from_arrays([pa.array(q[:, i]) for i in range(4)], list("xyzw"))


def _pose_batch() -> pa.RecordBatch:
    rng = np.random.default_rng(11)
    meas = MEAS
    log = meas + LAG_NS
    stamp = pa.StructArray.from_arrays(
        [pa.array(meas // 10**9, pa.int32()), pa.array(meas % 10**9, pa.uint32())],
        ["sec", "nanosec"],
    )
    header = pa.StructArray.from_arrays([stamp, pa.array(["map"] * N)], ["stamp", "frame_id"])
    position = pa.StructArray.from_arrays(
        [pa.array(meas / 1e9), pa.array(np.zeros(N)), pa.array(np.zeros(N))], list("xyz")
    )
    pose = pa.StructArray.from_arrays([position, _quat(_unit(rng, N))], ["position", "orientation"])
    columns = [pa.array(log), header, pose, _quat(_unit(rng, N)), pa.array(meas)]
    return pa.RecordBatch.from_arrays(columns, schema=POSE.schema)


@pytest.fixture(scope="module")
def sources(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, TopicSource]]:
    with backend.client(Path(tmp_path_factory.mktemp("store"))) as client:
        with client.sequence_create("drive", {}) as seq:
            seq.topic_create("/pose", {}, POSE).push_batch(_pose_batch())
        handler = client.sequence_handler("drive")
        assert handler is not None
        yield sequence_sources(handler)


def _norms(table: pa.Table, prefix: str) -> np.ndarray:
    q = np.stack([table.column(f"{prefix}.{c}").to_numpy() for c in "xyzw"], axis=1)
    return np.linalg.norm(q[~np.isnan(q).any(axis=1)], axis=1)


def test_quaternions_of_untyped_topics_are_detected_by_name_and_slerped(
    sources: dict[str, TopicSource],
) -> None:
    out = synchronize(sources, [Stream("/pose", Interpolate())], rate_hz=33.0)
    norms = _norms(out, "/pose.pose.orientation")
    assert norms.size > 100
    assert np.allclose(norms, 1.0)
    # `att` is not named like a quaternion: without a declaration it is lerped.
    assert _norms(out, "/pose.att").min() < 0.9


def test_declared_quaternion_fields_are_slerped(sources: dict[str, TopicSource]) -> None:
    stream = Stream("/pose", Interpolate(slerp=["att", "pose.orientation"]))
    out = synchronize(sources, [stream], rate_hz=33.0)
    assert np.allclose(_norms(out, "/pose.att"), 1.0)
    assert np.allclose(_norms(out, "/pose.pose.orientation"), 1.0)
    # Declaring says exactly which: slerp=() lerps every float, quaternions included.
    out = synchronize(sources, [Stream("/pose", Interpolate(slerp=()))], rate_hz=33.0)
    assert _norms(out, "/pose.pose.orientation").min() < 0.9


@pytest.mark.parametrize(
    ("slerp", "message"),
    [
        (["nope"], "topic '/pose': slerp field 'nope' is not a struct of float x, y, z, w"),
        (["pose.position"], "slerp field 'pose.position' is not a struct of float x, y, z, w"),
    ],
)
def test_a_bad_slerp_declaration_names_the_field(
    sources: dict[str, TopicSource], slerp: list[str], message: str
) -> None:
    with pytest.raises(MLInputError, match=message.replace("(", r"\(")):
        synchronize(sources, [Stream("/pose", Interpolate(slerp=slerp))], rate_hz=33.0)


def test_a_slerp_declaration_needs_the_whole_quaternion_selected(
    sources: dict[str, TopicSource],
) -> None:
    stream = Stream("/pose", Interpolate(slerp=["att"]), fields=["att.x", "att.y"])
    with pytest.raises(MLInputError, match="slerp field 'att' needs att.x, att.y, att.z, att.w"):
        synchronize(sources, [stream], rate_hz=33.0)


@pytest.mark.parametrize("key", ["meas_time_ns", "header.stamp"])
def test_a_time_field_keys_the_rows_instead_of_the_log_time(
    sources: dict[str, TopicSource], key: str
) -> None:
    out = synchronize(sources, [Stream("/pose", Hold(), fields="pose.position.x")],
                      reference="/pose", timestamp=key)  # fmt: skip
    assert out.column("timestamp_ns").to_pylist() == MEAS.tolist()
    by_log = synchronize(sources, ["/pose"], reference="/pose")
    assert by_log.column("timestamp_ns").to_pylist() == (MEAS + LAG_NS).tolist()


def test_a_stream_keeps_its_own_time_key_on_a_shared_grid(
    sources: dict[str, TopicSource],
) -> None:
    stream = Stream("/pose", Interpolate(), fields="pose.position.x", timestamp="meas_time_ns")
    one = synchronize(sources, [stream], rate_hz=40.0)
    ticks = one.column("timestamp_ns").to_numpy()
    assert ticks[0] == MEAS[0]  # the grid starts at the first measurement, not its log time
    # position.x is the measurement time in seconds: interpolated on measurement time, it
    # equals the tick (on log time it would trail by 207 ms).
    x = one.column("/pose.pose.position.x").to_numpy()
    ok = ~np.isnan(x)
    assert ok.sum() > 150 and np.allclose(x[ok], ticks[ok] / 1e9)
    parts = iter_synchronized(sources, [stream], rate_hz=40.0, chunk_ns=330_000_000)
    assert pa.concat_tables(list(parts)).equals(one)


def test_datasets_window_on_a_time_field(sources: dict[str, TopicSource]) -> None:
    streams = [Stream("/pose", Hold(), fields="pose.position")]
    grid = {"reference": "/pose", "timestamp": "header.stamp"}
    mapped = WindowDataset([sources], streams, length=5, stride=3, **grid)  # type: ignore[arg-type]
    streamed = list(StreamDataset([lambda: sources], streams, length=5, stride=3,
                                  windows_per_unit=2, **grid))  # type: ignore[arg-type]  # fmt: skip
    assert len(streamed) == len(mapped) == (N - 5) // 3 + 1
    for w, item in enumerate(streamed):
        assert item["timestamp_ns"].tolist() == MEAS[w * 3 : w * 3 + 5].tolist()
        assert torch.equal(item["/pose.pose.position.x"], mapped[w]["/pose.pose.position.x"])


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("nope", "topic '/pose' has no nope to sync on (timestamp must be 'record', 'header' or"),
        ("header.frame_id", "topic '/pose': header.frame_id is a string, not a time field"),
        ("pose.orientation", "topic '/pose': pose.orientation is a struct<x: double, y: double"),
        ("header", "topic '/pose' has no header.timestamp to sync on"),
    ],
)
def test_a_bad_time_key_names_the_field(
    sources: dict[str, TopicSource], key: str, message: str
) -> None:
    with pytest.raises(MLInputError, match=re.escape(message)):
        synchronize(sources, [Stream("/pose", timestamp=key)], rate_hz=1.0)
    with pytest.raises(MLInputError, match=re.escape(message)):
        synchronize(sources, ["/pose"], rate_hz=1.0, timestamp=key)


@pytest.mark.parametrize("lag", [LAG_NS, -LAG_NS], ids=["logged-after", "logged-before"])
def test_a_time_window_holds_every_row_keyed_in_it(lag: int) -> None:
    batch = _pose_batch()
    batch = batch.set_column(0, "timestamp_ns", pa.array(MEAS + lag))
    source = {"/pose": TableSource("/pose", POSE.tag, batch, batch_rows=4)}
    stream = Stream("/pose", Hold(), fields="meas_time_ns", timestamp="meas_time_ns")
    start, end = int(MEAS[5]), int(MEAS[10]) + 1
    out = synchronize(source, [stream], reference="/pose", start_ns=start, end_ns=end)
    # The window is on the key's clock, whichever side of it the log time falls.
    assert out.column("timestamp_ns").to_pylist() == MEAS[5:11].tolist()
    assert out.column("/pose.meas_time_ns").to_pylist() == MEAS[5:11].tolist()
