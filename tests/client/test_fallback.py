"""Topics whose type this client cannot decode typed: unknown tags and drifted schemas."""

from __future__ import annotations

import warnings

import pyarrow as pa
import pytest

from mosaico import IMU
from mosaico.client import Message, MosaicoClient, Unmodeled, UnmodeledTypeWarning
from mosaico.ontology import schema_fingerprint
from mosaico.protocol import TopicType
from tests.client.client_data import imu

# Types known only to their writer, without codec: enough for ``push_batch``.
EncoderTicks = TopicType(
    "EncoderTicks",
    pa.schema(
        [pa.field("timestamp_ns", pa.int64(), nullable=False), pa.field("ticks", pa.int64())]
    ),
)
# Tagged IMU, but with a float32 acceleration: the fingerprint differs.
DriftedIMU = TopicType(
    "IMU",
    pa.schema(
        [
            pa.field("timestamp_ns", pa.int64(), nullable=False),
            pa.field("acceleration", pa.struct([("x", pa.float32()), ("y", pa.float32())])),
        ]
    ),
)


def test_unknown_tag_and_drifted_schema_decode_to_unmodeled(client: MosaicoClient) -> None:
    with client.sequence_create("fallback", {}) as writer:
        writer.topic_create("ticks", {}, EncoderTicks).push_batch(
            {"ticks": [10, None, 30]}, timestamps_ns=[3, 1, 2]
        )
        writer.topic_create("drift", {}, DriftedIMU).push_batch(
            {"acceleration": [{"x": 1.5, "y": 2.5}]}, timestamps_ns=[2]
        )
        writer.topic_create("imu", {}, IMU).push(Message(2, imu(2)))
    handler = client.sequence_handler("fallback")
    assert handler is not None
    with pytest.warns(UnmodeledTypeWarning) as caught:
        merged = list(handler.get_data_streamer())
    reasons = sorted(str(w.message) for w in caught)
    assert len(reasons) == 2  # once per topic, not per row
    assert "'EncoderTicks' is not registered" in reasons[1] and "'IMU' has drifted" in reasons[0]
    drift_fp = schema_fingerprint(DriftedIMU.schema)
    assert merged == [
        ("/ticks", Message(1, Unmodeled("EncoderTicks", {"ticks": None},
                                        schema_fingerprint(EncoderTicks.schema)))),
        ("/ticks", Message(2, Unmodeled("EncoderTicks", {"ticks": 30},
                                        schema_fingerprint(EncoderTicks.schema)))),
        ("/drift", Message(2, Unmodeled("IMU", {"acceleration": {"x": 1.5, "y": 2.5}}, drift_fp))),
        ("/imu", Message(2, imu(2))),
        ("/ticks", Message(3, Unmodeled("EncoderTicks", {"ticks": 10},
                                        schema_fingerprint(EncoderTicks.schema)))),
    ]  # fmt: skip
    drift = client.topic_handler("fallback", "drift")
    assert drift is not None and drift.ontology_tag == "IMU" and drift.ontology_type is None
    assert client.topic_handler("fallback", "imu").ontology_type is IMU  # type: ignore[union-attr]
    with warnings.catch_warnings():  # columnar reads decode nothing, so nothing to warn of
        warnings.simplefilter("error", UnmodeledTypeWarning)
        table = drift.get_data_streamer().read_all()
    assert table.schema.equals(DriftedIMU.schema)  # columnar reads keep the real schema
