"""Topics without a generated type (a generic ROS message, a hand-built TopicType) in the ML
module, read from a real embedded store: quaternion detection and slerp, other time keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mosaico.client import MosaicoClient
from mosaico.ml import Interpolate, MLInputError, Stream, TopicSource, synchronize
from mosaico.ml.client_source import sequence_sources
from mosaico.protocol import TopicType

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


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _quat(q: np.ndarray) -> pa.StructArray:
    return pa.StructArray.from_arrays([pa.array(q[:, i]) for i in range(4)], list("xyzw"))


def _pose_batch() -> pa.RecordBatch:
    rng = np.random.default_rng(11)
    meas = np.arange(N, dtype=np.int64) * 100_000_000 + 1_000_000_000
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
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TopicSource]]:
    with MosaicoClient.local(Path(tmp_path_factory.mktemp("store"))) as client:
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
