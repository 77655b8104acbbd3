"""The vectorised decoder (mosaico.bridges.ros.cdr) against rosbags' own deserialisers.

Random messages of every fast-path type are serialised by rosbags (ROS 1, CDR little- and
big-endian, mixed in one batch) and decoded both ways: the struct arrays and the adapters'
record batches must be equal. Corrupted bytes must either be refused by the fast path or
be exactly what rosbags reads; a refused batch falls back to rosbags in ingest, which
reports the first bad message as before.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from mosaico.bridges.ros import ADAPTERS, MemorySequence, adapter_for, ingest
from mosaico.bridges.ros.cdr import BatchDecoder, Reject, Unsupported
from mosaico.bridges.ros.generic import ros_rows
from tests.bridges.ros.recordings import ALL_TYPES
from tests.bridges.ros.rosbag_fixtures import START_NS, RandomMessages, typestore

STORES = {1: typestore(1), 2: typestore(2)}
_INTS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "byte": 8}
_UINTS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64, "char": 8}
_DTYPES = {"byte": "int8", "char": "uint8", "bool": "bool_"}
# No surrogates (rosbags cannot encode them); NUL and any other code point are fine.
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=9)
CASES = [(v, t) for v in (1, 2) for t in ALL_TYPES if t in STORES[v].fielddefs]


def _scalar(base: str) -> st.SearchStrategy[Any]:
    if base == "bool":
        return st.booleans()
    if base == "string":
        return _TEXT
    if base == "float32":
        return st.floats(width=32)  # NaN and infinities included
    if base == "float64":
        return st.floats()
    if base in _INTS:
        bits = _INTS[base]
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.integers(0, 2 ** _UINTS[base] - 1)


def _field(store: Typestore, desc: tuple[Any, Any]) -> st.SearchStrategy[Any]:
    node, detail = desc
    if node == Nodetype.BASE:
        return _scalar(detail[0])
    if node == Nodetype.NAME:
        return messages(store, detail)
    (inner_node, inner), size = detail
    sizes = {"min_size": size, "max_size": size} if node == Nodetype.ARRAY else {"max_size": 4}
    if inner_node == Nodetype.NAME:
        return st.lists(messages(store, inner), **sizes)
    base: str = inner[0]
    items = st.lists(_scalar(base), **sizes)
    if base == "string":
        return items
    dtype = np.dtype(_DTYPES.get(base, base))
    return items.map(lambda xs: np.array(xs, dtype=dtype))


def messages(store: Typestore, msgtype: str) -> st.SearchStrategy[Any]:
    """Any message of `msgtype`: every field drawn from its whole range."""
    fields = store.fielddefs[msgtype][1]
    return st.builds(store.types[msgtype], **{name: _field(store, d) for name, d in fields})


def _plain(value: Any) -> Any:
    """Python values with NaN made comparable."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _same(a: Any, b: Any) -> None:
    """Arrays, batches or tables of one type (schema) and equal values."""
    if isinstance(a, pa.RecordBatch | pa.Table):
        assert a.schema.equals(b.schema, check_metadata=True)
    else:
        assert a.type == b.type
    assert _plain(a.to_pylist()) == _plain(b.to_pylist())


def _serialize(store: Typestore, version: int, msg: Any, msgtype: str, little: bool) -> bytes:
    if version == 1:
        return bytes(store.serialize_ros1(msg, msgtype))
    return bytes(store.serialize_cdr(msg, msgtype, little_endian=little))


def _deserialize(store: Typestore, version: int, raw: bytes, msgtype: str) -> Any:
    if version == 1:
        return store.deserialize_ros1(raw, msgtype)
    return store.deserialize_cdr(raw, msgtype)


def _converted(msgtype: str, rows: pa.StructArray, store: Typestore) -> Any:
    """The adapter's batch, or the error it raises (both paths must agree on either)."""
    try:
        return adapter_for(store, msgtype).to_batch(rows, list(range(len(rows))))
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return f"{type(exc).__name__}: {exc}"


def test_every_adapted_type_has_a_fast_path() -> None:
    for version, msgtype in CASES:
        BatchDecoder.for_type(STORES[version], msgtype, version)  # no Unsupported
    assert {t for v, t in CASES} >= set(ADAPTERS)


@pytest.mark.parametrize(("version", "msgtype"), CASES, ids=[f"ros{v}-{t}" for v, t in CASES])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_messages_decode_as_rosbags_does(
    version: int, msgtype: str, data: st.DataObject
) -> None:
    store = STORES[version]
    msgs = data.draw(st.lists(messages(store, msgtype), min_size=1, max_size=5), label="msgs")
    endian = data.draw(st.lists(st.booleans(), min_size=len(msgs), max_size=len(msgs)))
    raws = [_serialize(store, version, m, msgtype, e) for m, e in zip(msgs, endian)]
    fast = BatchDecoder.for_type(store, msgtype, version).decode(raws)
    slow = ros_rows(store, msgtype, [_deserialize(store, version, r, msgtype) for r in raws])
    _same(fast, slow)
    fast_batch, slow_batch = _converted(msgtype, fast, store), _converted(msgtype, slow, store)
    if isinstance(slow_batch, str):
        assert fast_batch == slow_batch
    else:
        _same(fast_batch, slow_batch)


def _corrupt(raw: bytes, data: st.DataObject) -> bytes:
    kind = data.draw(st.sampled_from(["flip", "cut", "pad", "grow"]))
    if kind == "cut":
        return raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)))]
    if kind == "pad":
        return raw + bytes(data.draw(st.integers(1, 9)))
    at = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255)) if kind == "flip" else 0xFF
    return raw[:at] + bytes([value]) + raw[at + 1 :]


@pytest.mark.parametrize(
    ("version", "msgtype"),
    [(1, "sensor_msgs/msg/JointState"), (2, "tf2_msgs/msg/TFMessage"), (2, "sensor_msgs/msg/Imu"),
     (2, "my_robot/msg/WheelState"), (1, "sensor_msgs/msg/PointCloud2")],
)  # fmt: skip
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_corrupt_bytes_are_refused_or_read_as_rosbags_reads_them(
    version: int, msgtype: str, data: st.DataObject
) -> None:
    store = STORES[version]
    msgs = data.draw(st.lists(messages(store, msgtype), min_size=1, max_size=3))
    raws = [_serialize(store, version, m, msgtype, data.draw(st.booleans())) for m in msgs]
    bad = data.draw(st.integers(0, len(raws) - 1))
    raws[bad] = _corrupt(raws[bad], data)
    try:
        fast = BatchDecoder.for_type(store, msgtype, version).decode(raws)
    except Reject:
        return  # rosbags decides
    # Accepted: rosbags reads every message, to the same values.
    slow = ros_rows(store, msgtype, [_deserialize(store, version, r, msgtype) for r in raws])
    _same(fast, slow)


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # no encapsulation header
        b"\x00\x02\x00\x00" + bytes(8),  # an unknown encapsulation
        b"\x01\x01\x00\x00" + bytes(8),
    ],
)
def test_bad_encapsulations_are_refused(raw: bytes) -> None:
    with pytest.raises(Reject):
        BatchDecoder.for_type(STORES[2], "std_msgs/msg/Float64", 2).decode([raw])


def test_strings_must_be_terminated_and_utf8() -> None:
    decoder = BatchDecoder.for_type(STORES[2], "std_msgs/msg/String", 2)
    assert decoder.decode([b"\x00\x01\x00\x00\x03\x00\x00\x00ab\x00"]).field(
        "data"
    ).to_pylist() == ["ab"]
    for raw in (b"\x00\x01\x00\x00\x03\x00\x00\x00abc", b"\x00\x01\x00\x00\x03\x00\x00\x00\xff\xfe\x00",
                b"\x00\x01\x00\x00\x00\x00\x00\x00", b"\x00\x01\x00\x00\xff\xff\xff\xff"):  # fmt: skip
        with pytest.raises(Reject):
            decoder.decode([raw])


def test_empty_messages_decode_in_cdr_and_are_left_to_rosbags_in_ros1() -> None:
    with pytest.raises(Unsupported):
        BatchDecoder.for_type(STORES[1], "std_msgs/msg/Empty", 1)
    store, msgtype = STORES[2], "std_msgs/msg/Empty"
    raws = [_serialize(store, 2, store.types[msgtype](), msgtype, e) for e in (True, False)]
    fast = BatchDecoder.for_type(store, msgtype, 2).decode(raws)
    _same(fast, ros_rows(store, msgtype, [_deserialize(store, 2, r, msgtype) for r in raws]))


def _corrupted_recording(path: Path, cut: dict[int, bytes | None]) -> Path:
    """/imu and /joints, 12 messages each; `cut` replaces some /joints messages' bytes."""
    store = STORES[2]
    gen = RandomMessages(store, 9)
    with Writer2(path, version=9) as writer:
        imu = writer.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=store)
        joints = writer.add_connection("/joints", "sensor_msgs/msg/JointState", typestore=store)
        for i in range(12):
            writer.write(
                imu, START_NS + i, store.serialize_cdr(gen.message(imu.msgtype), imu.msgtype)
            )
            raw = bytes(store.serialize_cdr(gen.message(joints.msgtype), joints.msgtype))
            writer.write(joints, START_NS + i, cut.get(i) or raw)
    return path


@pytest.mark.parametrize(
    "corruption",
    [
        b"\x00\x01\x00\x00\x01",  # truncated
        b"\x00\x01\x00\x00" + b"\xff" * 40,  # a header whose string length is absurd
        b"\x00\x07\x00\x00" + bytes(40),  # an unknown encapsulation
    ],
)
def test_a_malformed_message_is_reported_as_by_rosbags(
    tmp_path: Path, corruption: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _corrupted_recording(tmp_path / "rec", {6: corruption})
    fast_seq = MemorySequence("fast")
    fast = ingest([path], fast_seq, batch_messages=4)  # the bad message is mid-batch
    pipeline = sys.modules["mosaico.bridges.ros.ingest"]  # the module, not the function
    monkeypatch.setattr(pipeline, "_decoder", lambda source, p: None)  # rosbags only
    slow_seq = MemorySequence("slow")
    slow = ingest([path], slow_seq, batch_messages=4)
    assert fast.written == slow.written == {"/imu": 12, "/joints": 6}
    assert fast.skipped == slow.skipped
    assert fast.skipped["/joints"].startswith(f"message 7 (log time {START_NS + 6} ns) does not")
    for name, topic in fast_seq.topics.items():
        assert topic.error == slow_seq.topics[name].error
        _same(topic.table(), slow_seq.topics[name].table())
