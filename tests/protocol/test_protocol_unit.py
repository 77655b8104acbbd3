"""The shared protocol module on its own: names, requests, envelopes, metadata, errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol import (
    AlreadyExists,
    DataInfo,
    FailedPrecondition,
    Internal,
    Interval,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceCommand,
    SequenceMetadata,
    ServerInfo,
    SessionCreated,
    SessionLocator,
    SessionMetadata,
    Ticket,
    TimeWindow,
    TimeWindowInfo,
    TopicCreate,
    TopicCreated,
    TopicLocator,
    TopicMetadata,
    Unimplemented,
    UploadCommand,
    decode_envelope,
    decode_paged,
    encode_envelope,
    encode_request,
    format_created_datetime,
    from_flight_error,
    normalize_sequence_name,
    normalize_topic_path,
    parse_created_datetime,
    parse_request,
    to_flight_error,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("run-1", "run-1"), ("/run_A/", "run_A"), ("//9x//", "9x")],
)
def test_sequence_names(raw: str, expected: str) -> None:
    assert normalize_sequence_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "/", "-a", "_a", "a/b", "a.b", "..", "a b", "é", "a\tb", 3])
def test_bad_sequence_names(raw: object) -> None:
    with pytest.raises(InvalidArgument):
        normalize_sequence_name(raw)


def test_topic_paths_and_locators() -> None:
    assert normalize_topic_path("/imu//front/./x/") == "imu/front/x"
    assert normalize_topic_path("a/_b/-c") == "a/_b/-c"
    for bad in ("", "/", "_a", "a/../b", "a/b c", "a/b\x00"):
        with pytest.raises(InvalidArgument):
            normalize_topic_path(bad)
    loc = TopicLocator.parse("/run/imu/front/")
    assert (loc.sequence, loc.path, loc.name, str(loc)) == ("run", "imu/front", "/imu/front",
                                                           "run/imu/front")  # fmt: skip
    for bad in ("run", "run/", "/run//"):
        with pytest.raises(InvalidArgument, match="must have the form"):
            TopicLocator.parse(bad)
    session = SessionLocator.parse("run:01KQ9XQ0HJ3V39F87CBP6PYA1T")
    assert str(session) == "run:01KQ9XQ0HJ3V39F87CBP6PYA1T"
    for bad in ("run", "run:", "run:a/b", ":x"):
        with pytest.raises(InvalidArgument):
            SessionLocator.parse(bad)


def test_request_roundtrip_and_unknown_keys_ignored() -> None:
    body = json.dumps({
        "session_uuid": "CAD0FA0E-3883-4A93-89F6-F0D560C2B2B4", "locator": "/run/imu",
        "serialization_format": "image", "ontology_tag": "Image", "user_metadata": None,
        "extra": True,
    }).encode()  # fmt: skip
    request = parse_request("topic_create", body)
    assert isinstance(request, TopicCreate)
    assert request.session_uuid == "cad0fa0e-3883-4a93-89f6-f0d560c2b2b4"
    assert request.user_metadata == {} and str(request.topic) == "run/imu"
    name, encoded = encode_request(request)
    assert name == "topic_create" and parse_request(name, encoded) == request


def test_request_errors() -> None:
    with pytest.raises(Unimplemented, match="unknown action 'nope'"):
        parse_request("nope", b"{}")
    # Query actions are typed requests like the others (they used to be Unimplemented here).
    with pytest.raises(InvalidArgument, match="'topics' must be a non-empty array"):
        parse_request("topic_filter_intersect", b"{}")
    with pytest.raises(InvalidArgument, match="larger than the 10 limit"):
        parse_request("info", b"{" + b" " * 20 + b"}", max_bytes=10)
    with pytest.raises(InvalidArgument, match="'timestamp_ns_start' must be an integer, got bool"):
        ResourceCommand.parse(b'{"resource_locator": "a", "timestamp_ns_start": true}')
    with pytest.raises(InvalidArgument, match="does not fit in int64"):
        ResourceCommand.parse(b'{"resource_locator": "a", "timestamp_ns_end": 9223372036854775808}')


def test_envelopes() -> None:
    doc = encode_envelope("session_create", {"uuid": "u", "locator": "a:b"})
    assert decode_envelope("session_create", [doc[:5], b"", doc[5:]]) == {"uuid": "u",
                                                                           "locator": "a:b"}  # fmt: skip
    assert decode_envelope("info", []) is None
    assert decode_envelope("info", [b'{"action": "empty"}']) is None
    assert decode_envelope("info", [encode_envelope("other", {})]) is None
    pages = [encode_envelope("topic_filter_clusterize", {"id": i}) + b"\n" for i in range(2)]
    assert decode_paged("topic_filter_clusterize", pages) == [{"id": 0}, {"id": 1}]
    with pytest.raises(InvalidArgument):
        decode_paged("topic_filter_clusterize", [encode_envelope("topic_filter_clusterize", None)])


def test_strict_payloads() -> None:
    created = SessionCreated.from_json({"uuid": "u", "locator": "run:ID1"})
    assert created.to_json() == {"uuid": "u", "locator": "run:ID1"}
    with pytest.raises(InvalidArgument, match="exactly the keys"):
        SessionCreated.from_json({"uuid": "u", "locator": "run:ID1", "x": 1})
    assert TopicCreated.from_json({"uuid": "t"}).uuid == "t"
    info = ServerInfo.from_json(ServerInfo().to_json())
    assert info == ServerInfo() and info.limits.upload_batch_limit == 47185920
    with pytest.raises(InvalidArgument):
        ServerInfo.from_json({"version": "0.7.0"})


def test_app_metadata_roundtrip() -> None:
    topic = TopicMetadata(
        topic=TopicLocator("run", "imu/front"), created_at_ns=1, completed_at_ns=None,
        locked=False, ontology_tag="IMU", serialization_format="default",
        user_metadata={"a": 1}, data_info=DataInfo(10, 1, 3, Interval(5, 9)),
        window=TimeWindowInfo(0, None),
    )  # fmt: skip
    assert TopicMetadata.from_bytes(topic.to_bytes()) == topic
    doc = json.loads(topic.to_bytes())
    assert doc["resource_locator"] == "run/imu/front"
    assert doc["time_window_info"] == {"row_count": 0, "interval": None}
    seq = SequenceMetadata("run", 1, {}, [SessionMetadata("run:X", 2, 3, True, ["run/imu/front"])])
    assert SequenceMetadata.from_bytes(seq.to_bytes()) == seq


def test_commands_and_tickets() -> None:
    cmd = ResourceCommand.parse(b'{"resource_locator": "/run/", "timestamp_ns_end": 5}')
    assert cmd.topic is None and cmd.sequence == "run" and cmd.window == TimeWindow(None, 5)
    assert ResourceCommand.parse(cmd.to_bytes()) == cmd
    topic_cmd = ResourceCommand.parse(b'{"resource_locator": "run/a/b"}')
    assert str(topic_cmd.topic) == "run/a/b" and not topic_cmd.window.bounded
    ticket = Ticket(TopicLocator("run", "a"), TimeWindow(1, 2))
    assert Ticket.parse(ticket.to_bytes()) == ticket
    upload = UploadCommand(TopicLocator("run", "a"), "18185ac9-f166-420b-9b4e-e85414ee3e1a")
    assert UploadCommand.parse(upload.to_bytes()) == upload
    window = TimeWindow(10, 20)
    assert window.overlaps(5, 10) and not window.overlaps(20, 30) and not window.overlaps(1, 9)
    assert window.contains_interval(10, 19) and not window.contains_interval(10, 20)


def test_created_datetime_format() -> None:
    text = format_created_datetime(1_795_504_302_123_456_789)
    assert text == "2026-11-24 07:11:42.123456 UTC"
    assert parse_created_datetime(text).microsecond == 123456


@pytest.mark.parametrize(
    ("error", "flight_type"),
    [
        (NotFound("x"), pa.ArrowKeyError),
        (AlreadyExists("x"), pa.ArrowInvalid),
        (InvalidArgument("x"), pa.ArrowInvalid),
        (FailedPrecondition("x"), pa.ArrowInvalid),
        (PermissionDenied("x"), flight.FlightUnauthorizedError),
        (Unimplemented("x"), NotImplementedError),
        (Internal("x"), flight.FlightInternalError),
    ],
)
def test_error_mapping_roundtrip(error: Exception, flight_type: type) -> None:
    mapped = to_flight_error(error)  # type: ignore[arg-type]
    assert isinstance(mapped, flight_type)
    assert str(mapped).startswith(f"{error.prefix}: x")  # type: ignore[attr-defined]
    # What a pyarrow client sees: the message followed by pyarrow's detail suffix.
    seen = type(mapped)(f"{mapped}. Detail: Python exception: Traceback ...")
    back = from_flight_error(seen)
    assert type(back) is type(error) and back.detail == "x"


def test_error_classification_without_prefix() -> None:
    assert isinstance(from_flight_error(pa.ArrowKeyError("gone")), NotFound)
    assert isinstance(from_flight_error(pa.ArrowInvalid("bad")), InvalidArgument)
    assert isinstance(from_flight_error(pa.ArrowException("dup")), AlreadyExists)
    assert isinstance(from_flight_error(flight.FlightUnauthorizedError("no")), PermissionDenied)
    assert isinstance(from_flight_error(RuntimeError("?")), Internal)
