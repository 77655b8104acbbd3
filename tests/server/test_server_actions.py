"""Control plane over a real Flight server: every action, its reply shape and its errors."""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from tests.server.server_helpers import SCHEMA, Raw, make_batch


def test_info_handshake(raw: Raw) -> None:
    info = raw.action("info")
    assert info["version"] == "0.7.0"
    assert info["semver"] == {"major": 0, "minor": 7, "patch": 0, "pre": None}
    assert info["config"] == {
        "grpc_max_decode_message_size": 52428800,
        "grpc_max_encode_message_size": 52428800,
        "grpc_target_encode_message_size": 26214400,
        "max_metadata_bytes": 1048576,  # our extension: the reference client ignores it
    }


def test_session_and_topic_replies_have_exact_keys(raw: Raw) -> None:
    assert raw.action("sequence_create", {"locator": "/run-1/", "user_metadata": None}) is None
    session = raw.action("session_create", {"locator": "run-1/"})
    assert set(session) == {"uuid", "locator"}
    seq, ident = session["locator"].split(":")
    assert seq == "run-1" and re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", ident)
    reply = raw.action(
        "topic_create",
        {
            "session_uuid": session["uuid"],
            "locator": "/run-1/imu//front/",
            "serialization_format": "default",
            "ontology_tag": "IMU",
            "user_metadata": {"k": [1, 2]},
        },
    )
    assert set(reply) == {"uuid"}
    meta = json.loads(raw.info("run-1").app_metadata)
    assert meta["sessions"][0]["topics"] == ["run-1/imu/front"]
    assert meta["user_metadata"] == {}


def test_sequence_create_twice_fails_also_with_slashes(raw: Raw) -> None:
    raw.action("sequence_create", {"locator": "run", "user_metadata": {}})
    for name in ("run", "/run", "run/"):
        with pytest.raises(pa.ArrowInvalid, match="^already exists: sequence 'run'"):
            raw.action("sequence_create", {"locator": name, "user_metadata": {}})


def test_topic_create_rules(raw: Raw) -> None:
    first = raw.new_sequence("seq")
    raw.new_topic(first, "seq/a")
    with pytest.raises(pa.ArrowInvalid, match="^already exists: topic 'seq/a'"):
        raw.new_topic(first, "seq/a")
    second = raw.action("session_create", {"locator": "seq"})
    with pytest.raises(pa.ArrowInvalid, match="^already exists"):
        raw.new_topic(second, "seq/a")  # unique across sessions
    raw.action("sequence_create", {"locator": "other", "user_metadata": {}})
    with pytest.raises(pa.ArrowInvalid, match="not in the session's sequence"):
        raw.new_topic(first, "other/a")
    with pytest.raises(pa.ArrowInvalid, match="serialization_format 'fancy'"):
        raw.new_topic(first, "seq/b", fmt="fancy")
    with pytest.raises(pa.ArrowInvalid, match="ontology_tag must be a non-empty"):
        raw.new_topic(first, "seq/b", tag="")
    raw.action("session_finalize", {"session_uuid": first["uuid"]})
    with pytest.raises(pa.ArrowInvalid, match="^failed precondition: session .* is finalized"):
        raw.new_topic(first, "seq/c")
    with pytest.raises(pa.ArrowKeyError, match="^not found: session"):
        raw.new_topic({"uuid": "00000000-0000-4000-8000-000000000000"}, "seq/c")
    with pytest.raises(pa.ArrowInvalid, match="not a valid UUID"):
        raw.new_topic({"uuid": "nope"}, "seq/c")


def test_finalize_locks_everything(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    raw.new_topic(session, "seq/never-uploaded")
    raw.put("seq/a", uuid, [make_batch([1, 2])])
    raw.action("session_finalize", {"session_uuid": session["uuid"]})
    info = raw.info("seq")
    meta = json.loads(info.app_metadata)
    assert meta["sessions"][0]["locked"] is True
    assert meta["sessions"][0]["completed_at_ns"] >= meta["sessions"][0]["created_at_ns"]
    endpoints = [json.loads(e.app_metadata) for e in info.endpoints]
    assert [e["locked"] for e in endpoints] == [True, True]
    with pytest.raises(pa.ArrowInvalid, match="^failed precondition: session .* already finalized"):
        raw.action("session_finalize", {"session_uuid": session["uuid"]})


def test_empty_session_can_be_finalized(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    raw.action("session_finalize", {"session_uuid": session["uuid"]})


def test_unknown_resources_are_not_found(raw: Raw) -> None:
    cases = [
        ("session_create", {"locator": "ghost"}),
        ("sequence_delete", {"locator": "ghost"}),
        ("topic_delete", {"locator": "ghost/a"}),
        ("session_delete", {"locator": "ghost:01ABC"}),
        ("session_finalize", {"session_uuid": "00000000-0000-4000-8000-000000000000"}),
        ("sequence_notification_list", {"locator": "ghost"}),
        ("topic_notification_list", {"locator": "ghost/a"}),
        ("sequence_notification_purge", {"locator": "ghost"}),
        (
            "topic_notification_create",
            {"locator": "ghost/a", "notification_type": "error", "msg": "x"},
        ),
    ]
    for name, body in cases:
        with pytest.raises(pa.ArrowKeyError, match="^not found: "):
            raw.action(name, body)


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("sequence_create", b"{not json", "not valid JSON"),
        ("sequence_create", b"[1, 2]", "must be a JSON object, got list"),
        ("sequence_create", b"", "is empty"),
        ("sequence_create", b"\xff\xfe", "not valid UTF-8"),
        ("sequence_create", b'{"user_metadata": {}}', "missing key 'locator'"),
        ("sequence_create", b'{"locator": 5}', "'locator' must be a string"),
        ("sequence_create", b'{"locator": "a", "user_metadata": [1]}', "must be a JSON object"),
        ("sequence_create", b'{"locator": "a/b"}', "must not contain '/'"),
        ("sequence_create", b'{"locator": ".."}', "must not contain '..'"),
        ("sequence_create", b'{"locator": "a..b"}', "must not contain '.'"),
        ("sequence_create", b'{"locator": "a\\u0007b"}', "control character"),
        ("sequence_create", b'{"locator": "_a"}', "must start with an ASCII letter or digit"),
        ("sequence_create", b'{"locator": "a b"}', "allowed characters"),
        ("sequence_create", b'{"locator": "///"}', "is empty"),
        ("session_delete", b'{"locator": "no-colon"}', "must have the form"),
        ("topic_delete", b'{"locator": "only-sequence"}', "must have the form"),
        ("topic_delete", b'{"locator": "seq/../etc"}', "must not contain '..'"),
        ("topic_delete", b'{"locator": "seq/a\\nb"}', "control character"),
        ("session_finalize", b'{"session_uuid": "xyz"}', "not a valid UUID"),
        (
            "sequence_notification_create",
            b'{"locator": "a", "notification_type": "warning", "msg": "m"}',
            "notification_type 'warning'",
        ),
    ],
)
def test_malformed_requests_are_invalid_argument(
    raw: Raw, name: str, body: bytes, message: str
) -> None:
    with pytest.raises(pa.ArrowInvalid, match=re.escape(message)):
        raw.action(name, raw=body)


def test_unknown_actions_are_unimplemented(raw: Raw) -> None:
    with pytest.raises(pa.ArrowNotImplementedError, match="unknown action 'frobnicate'"):
        raw.action("frobnicate", {})


def test_query_actions_are_served(raw: Raw) -> None:
    assert raw.action("query", {}) == {"items": []}
    with pytest.raises(pa.ArrowInvalid, match="topics"):
        raw.action("topic_filter_intersect", {"topics": [], "intersect_dt_ns": 0})


def test_oversized_action_body_is_rejected(raw: Raw) -> None:
    body = json.dumps({"locator": "a", "user_metadata": {"x": "y" * 53_000_000}}).encode()
    with pytest.raises(pa.ArrowInvalid, match="larger than the 52428800 limit"):
        raw.action("sequence_create", raw=body)
    with pytest.raises(pa.ArrowKeyError):
        raw.info("a")  # nothing was created


def test_notifications(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    raw.new_topic(session, "seq/a/b")
    msg = 'multi\nline "quoted" message'
    raw.action(
        "sequence_notification_create",
        {"locator": "/seq", "notification_type": "error", "msg": msg},
    )
    raw.action(
        "topic_notification_create",
        {"locator": "seq/a/b", "notification_type": "error", "msg": "topic problem"},
    )
    seq_list = raw.action("sequence_notification_list", {"locator": "seq"})["notifications"]
    assert [(n["name"], n["msg"]) for n in seq_list] == [("seq", msg)]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC", seq_list[0]["created_datetime"]
    )
    topic_list = raw.action("topic_notification_list", {"locator": "seq/a/b"})["notifications"]
    assert [(n["name"], n["notification_type"]) for n in topic_list] == [("seq/a/b", "error")]
    raw.action("sequence_notification_purge", {"locator": "seq"})
    assert raw.action("sequence_notification_list", {"locator": "seq"}) == {"notifications": []}
    # Purging the sequence leaves its topics' notifications alone.
    assert len(raw.action("topic_notification_list", {"locator": "seq/a/b"})["notifications"]) == 1
    raw.action("topic_notification_purge", {"locator": "seq/a/b"})
    assert raw.action("topic_notification_list", {"locator": "seq/a/b"})["notifications"] == []


def test_deletes(raw: Raw) -> None:
    first = raw.new_sequence("seq")
    uuid_a = raw.new_topic(first, "seq/a")
    raw.put("seq/a", uuid_a, [make_batch([1, 2, 3])])
    raw.action("session_finalize", {"session_uuid": first["uuid"]})
    second = raw.action("session_create", {"locator": "seq"})
    uuid_b = raw.new_topic(second, "seq/b")
    raw.put("seq/b", uuid_b, [make_batch([4])])
    raw.action("session_delete", {"locator": second["locator"]})
    meta = json.loads(raw.info("seq").app_metadata)
    assert [s["locator"] for s in meta["sessions"]] == [first["locator"]]
    with pytest.raises(pa.ArrowKeyError):
        raw.info("seq/b")
    # The path can be reused after deletion.
    third = raw.action("session_create", {"locator": "seq"})
    raw.new_topic(third, "seq/b")
    raw.action("topic_delete", {"locator": "seq/a"})  # finalized topics may be deleted too
    with pytest.raises(pa.ArrowKeyError):
        raw.info("seq/a")
    raw.action("session_delete", {"session_uuid": third["uuid"]})
    raw.action("sequence_delete", {"locator": "/seq/"})
    with pytest.raises(pa.ArrowKeyError):
        raw.info("seq")
    assert list(raw.client.list_flights()) == []


def test_sequence_without_sessions_survives(raw: Raw) -> None:
    session = raw.new_sequence("seq", {"a": 1})
    raw.action("session_delete", {"locator": session["locator"]})
    meta = json.loads(raw.info("seq").app_metadata)
    assert meta["sessions"] == [] and meta["user_metadata"] == {"a": 1}


def test_list_flights(raw: Raw) -> None:
    for name in ("b-seq", "a-seq", "c-seq"):
        raw.action("sequence_create", {"locator": name, "user_metadata": {}})
    for criteria in (b"", b"/"):
        infos = list(raw.client.list_flights(criteria))
        assert [i.descriptor.path for i in infos] == [[b"b-seq"], [b"a-seq"], [b"c-seq"]]
    with pytest.raises(pa.ArrowInvalid, match="criteria"):
        list(raw.client.list_flights(b"something"))


def test_get_schema(raw: Raw) -> None:
    session = raw.new_sequence("seq")
    uuid = raw.new_topic(session, "seq/a")
    descriptor = flight.FlightDescriptor.for_command(json.dumps({"resource_locator": "seq/a"}))
    assert raw.client.get_schema(descriptor).schema == pa.schema([])
    raw.put("seq/a", uuid, [])
    stored = raw.client.get_schema(descriptor).schema
    assert stored.equals(SCHEMA, check_metadata=True)
    with pytest.raises(pa.ArrowInvalid, match="needs a topic locator"):
        raw.client.get_schema(
            flight.FlightDescriptor.for_command(json.dumps({"resource_locator": "seq"}))
        )
    with pytest.raises(pa.ArrowInvalid, match="path descriptor"):
        raw.client.get_schema(flight.FlightDescriptor.for_path("seq"))
    with pytest.raises(pa.ArrowKeyError):
        raw.client.get_schema(
            flight.FlightDescriptor.for_command(json.dumps({"resource_locator": "seq/zzz"}))
        )


def test_a_message_holding_nul_is_refused_on_every_backend(raw: Raw) -> None:
    raw.new_sequence("seq")
    body = {"locator": "seq", "notification_type": "error", "msg": "before\u0000after"}
    with pytest.raises(pa.ArrowInvalid, match="msg must not contain the NUL character"):
        raw.action("sequence_notification_create", body)
    assert raw.action("sequence_notification_list", {"locator": "seq"}) == {"notifications": []}
