"""Names, locators, descriptors and tickets as an attacker writes them: traversal, NUL,
absolute paths, look-alike Unicode, very long names. Each is refused (INVALID_ARGUMENT, or
NOT_FOUND for a lookup) or is a spelling the protocol normalises (spec §3.4); nothing is
ever written outside the store, and the store holds only its own layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow.flight as flight
import pytest

from tests.hostile.hostile_helpers import (
    Outcome,
    Served,
    embedded,
    expect,
    expect_any_of,
    outcome,
    path_descriptor,
    read_table,
    tree,
)
from tests.server.server_helpers import SCHEMA, make_batch

LONG = "a" * 100_000
REFUSED = "refused"

# (raw sequence name, its normalised form or REFUSED)
SEQUENCE_NAMES = [
    ("..", REFUSED),
    (".", REFUSED),
    ("../etc", REFUSED),
    ("/../../etc/passwd", REFUSED),
    ("/etc/passwd", REFUSED),
    ("a\x00b", REFUSED),
    ("\x00", REFUSED),
    ("\\..\\windows", REFUSED),
    ("C:\\x", REFUSED),
    ("%2e%2e", REFUSED),
    ("~root", REFUSED),
    ("a:b", REFUSED),
    (" a", REFUSED),
    ("a\n", REFUSED),
    ("\uff52\uff55\uff4e", REFUSED),  # fullwidth 'run'
    ("run\u0301", REFUSED),  # combining accent
    ("\u00c5", REFUSED),  # precomposed A-ring
    ("A\u030a", REFUSED),  # the same, decomposed
    ("run\u200b", REFUSED),  # zero-width space
    ("", REFUSED),
    ("/", REFUSED),
    ("//", REFUSED),
    ("a/", "a"),
    ("/a", "a"),
    ("//a//", "a"),
]

# (raw topic locator in sequence "seq", its normalised form or REFUSED)
TOPIC_LOCATORS = [
    ("seq/..", REFUSED),
    ("seq/../other/x", REFUSED),
    ("seq/a/../../../x", REFUSED),
    ("seq/a\x00", REFUSED),
    ("seq/\x00/a", REFUSED),
    ("seq/\uff41", REFUSED),  # fullwidth 'a'
    ("seq/%2e%2e/x", REFUSED),
    ("seq/a\\..\\b", REFUSED),
    ("seq/_a", REFUSED),
    ("seq", REFUSED),
    ("seq/", REFUSED),
    ("seq//", REFUSED),
    ("../seq/a", REFUSED),
    ("seq//a", "seq/a"),
    ("seq/a/", "seq/a"),
    ("seq/./a", "seq/a"),
    ("/seq/a", "seq/a"),
    ("seq/a//", "seq/a"),
]

_LAYOUT = re.compile(
    r"^(catalog\.sqlite3(-wal|-shm|-journal)?|\.lock|chunks|tmp"
    r"|chunks/[0-9a-f-]{36}|chunks/[0-9a-f-]{36}/[0-9a-f-]{36}\.parquet)$"
)


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [json.dumps(raw)[:30] for raw, _ in cases]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    outside = tree(tmp_path)
    with embedded(tmp_path / "store") as running:
        yield running
    _nothing_outside_the_store(tmp_path, outside)


def _nothing_outside_the_store(root: Path, before: set[str]) -> None:
    after = tree(root)
    added = {p for p in after - before if not p.startswith("store")}
    assert not added, f"written outside the store: {sorted(added)}"
    strays = sorted(p for p in tree(root / "store") if not _LAYOUT.match(p))
    assert not strays, f"the store holds files outside its layout: {strays}"


def _lookup(served: Served, kind: str, raw: str) -> Outcome:
    if kind == "flight info":
        return outcome(lambda: served.wire.info({"resource_locator": raw}))
    if kind == "get schema":
        return outcome(lambda: served.wire.schema({"resource_locator": raw}))
    if kind == "ticket":
        return outcome(lambda: served.wire.do_get({"locator": raw, "start_ns": None,
                                                    "end_ns": None}))  # fmt: skip
    assert kind == "sequence delete"
    return outcome(lambda: served.wire.action("sequence_delete", {"locator": raw}))


# -- sequence names -------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "normal"), SEQUENCE_NAMES, ids=_ids(SEQUENCE_NAMES))
def test_sequence_create_with_a_hostile_name(served: Served, raw: str, normal: str) -> None:
    result = outcome(lambda: served.wire.action("sequence_create", {"locator": raw}))
    if normal == REFUSED:
        expect(result, "INVALID_ARGUMENT", "sequence", store=served.store)
        assert served.wire.list_flights() == 0
        return
    expect(result, "OK")
    names = [i.descriptor.path[0].decode() for i in served.raw.client.list_flights()]
    assert names == [normal]
    meta = json.loads(served.raw.info(normal).app_metadata)
    assert meta["resource_locator"] == normal


@pytest.mark.parametrize("kind", ["flight info", "sequence delete"])
@pytest.mark.parametrize(("raw", "normal"), SEQUENCE_NAMES, ids=_ids(SEQUENCE_NAMES))
def test_sequence_lookup_with_a_hostile_name(
    served: Served, raw: str, normal: str, kind: str
) -> None:
    served.raw.new_sequence("a")
    result = _lookup(served, kind, raw)
    if normal == REFUSED:
        expect(result, ("INVALID_ARGUMENT", "NOT_FOUND"), store=served.store)
        assert served.wire.list_flights() == 1
    else:
        expect(result, "OK")


def test_a_very_long_sequence_name_is_refused_or_served_back(served: Served) -> None:
    result = outcome(lambda: served.wire.action("sequence_create", {"locator": LONG}))
    expect(result, ("OK", "INVALID_ARGUMENT"), store=served.store)
    if result.kind == "OK":
        expect(outcome(lambda: served.wire.info({"resource_locator": LONG})), "OK")
        again = outcome(lambda: served.wire.action("sequence_create", {"locator": LONG}))
        expect(again, "ALREADY_EXISTS", store=served.store)
        expect(outcome(lambda: served.wire.action("sequence_delete", {"locator": LONG})), "OK")


# -- topic locators ---------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "normal"), TOPIC_LOCATORS, ids=_ids(TOPIC_LOCATORS))
def test_topic_create_with_a_hostile_locator(served: Served, raw: str, normal: str) -> None:
    session = served.raw.new_sequence("seq")
    served.raw.new_sequence("other")
    request = {"session_uuid": session["uuid"], "locator": raw, "ontology_tag": "Thing",
               "serialization_format": "default", "user_metadata": {}}  # fmt: skip
    result = outcome(lambda: served.wire.action("topic_create", request))
    meta = json.loads(served.raw.info("seq").app_metadata)
    if normal == REFUSED:
        expect(result, "INVALID_ARGUMENT", store=served.store)
        expect_any_of(result, "topic", "sequence")
        assert meta["sessions"][0]["topics"] == []
        return
    expect(result, "OK")
    assert meta["sessions"][0]["topics"] == [normal]
    [endpoint] = served.raw.info(normal).endpoints
    assert json.loads(endpoint.app_metadata)["resource_locator"] == normal


def _seq_with_topic(served: Served) -> str:
    session = served.raw.new_sequence("seq")
    uuid = served.raw.new_topic(session, "seq/a")
    served.raw.put("seq/a", uuid, [make_batch([3, 1, 2])])
    served.raw.new_sequence("other")
    return uuid


@pytest.mark.parametrize("kind", ["flight info", "get schema", "ticket"])
@pytest.mark.parametrize(("raw", "normal"), TOPIC_LOCATORS, ids=_ids(TOPIC_LOCATORS))
def test_topic_lookup_with_a_hostile_locator(
    served: Served, raw: str, normal: str, kind: str
) -> None:
    _seq_with_topic(served)
    result = _lookup(served, kind, raw)
    if normal == REFUSED:
        # A locator of one segment names a sequence: GetFlightInfo may describe it.
        allowed: tuple[str, ...] = ("INVALID_ARGUMENT", "NOT_FOUND")
        if kind == "flight info" and raw.strip("/") == "seq":
            allowed = ("OK",)
        expect(result, allowed, store=served.store)
    else:
        expect(result, "OK")


@pytest.mark.parametrize(("raw", "normal"), TOPIC_LOCATORS, ids=_ids(TOPIC_LOCATORS))
def test_upload_to_a_hostile_locator(served: Served, raw: str, normal: str) -> None:
    session = served.raw.new_sequence("seq")
    uuid = served.raw.new_topic(session, "seq/a")
    command = json.dumps({"resource_locator": raw, "topic_uuid": uuid})

    def upload() -> None:
        writer, _ = served.raw.client.do_put(flight.FlightDescriptor.for_command(command), SCHEMA)
        writer.write_batch(make_batch([2, 1]))
        writer.close()

    result = outcome(upload)
    if normal == REFUSED:
        expect(result, ("INVALID_ARGUMENT", "NOT_FOUND"), store=served.store)
        assert (
            served.raw.client.get_schema(
                flight.FlightDescriptor.for_command(b'{"resource_locator": "seq/a"}')
            ).schema.names
            == []
        )
    else:
        expect(result, "OK")
        assert read_table(served.raw, "seq/a").column("timestamp_ns").to_pylist() == [1, 2]


def test_a_very_long_topic_path_is_refused_or_served_back(served: Served) -> None:
    session = served.raw.new_sequence("seq")
    request = {"session_uuid": session["uuid"], "locator": "seq/" + LONG, "ontology_tag": "T",
               "serialization_format": "default"}  # fmt: skip
    result = outcome(lambda: served.wire.action("topic_create", request))
    expect(result, ("OK", "INVALID_ARGUMENT"), store=served.store)
    if result.kind == "OK":
        expect(outcome(lambda: served.wire.schema({"resource_locator": "seq/" + LONG})), "OK")
        again = outcome(lambda: served.wire.action("topic_create", request))
        expect(again, "ALREADY_EXISTS", store=served.store)


def test_a_topic_in_another_sequence_than_its_session_is_refused(served: Served) -> None:
    session = served.raw.new_sequence("seq")
    served.raw.action("sequence_create", {"locator": "other"})
    request = {"session_uuid": session["uuid"], "locator": "other/a", "ontology_tag": "T",
               "serialization_format": "default"}  # fmt: skip
    result = outcome(lambda: served.wire.action("topic_create", request))
    expect(result, ("INVALID_ARGUMENT", "PERMISSION_DENIED"), "other", store=served.store)
    assert json.loads(served.raw.info("other").app_metadata)["sessions"] == []


# -- session locators, descriptors, criteria -----------------------------------------------------


@pytest.mark.parametrize(
    "locator",
    ["seq:../../x", "seq:01AB/..", "../seq:01AB", "seq:", ":01AB", "seq:01AB\x00", "seq"],
)
def test_session_delete_with_a_hostile_locator(served: Served, locator: str) -> None:
    session = served.raw.new_sequence("seq")
    result = outcome(lambda: served.wire.action("session_delete", {"locator": locator}))
    expect(result, ("INVALID_ARGUMENT", "NOT_FOUND"), store=served.store)
    meta = json.loads(served.raw.info("seq").app_metadata)
    assert [s["locator"] for s in meta["sessions"]] == [session["locator"]]


@pytest.mark.parametrize("rpc", ["flight info", "get schema"])
@pytest.mark.parametrize("path", [["..", "etc"], ["/etc/passwd"], ["seq", "a"], ["seq/a"]])
def test_path_descriptors_are_refused(served: Served, rpc: str, path: list[str]) -> None:
    _seq_with_topic(served)
    call = served.wire.info_of if rpc == "flight info" else served.wire.schema_of
    result = outcome(lambda: call(path_descriptor(*path)))
    expect(result, "INVALID_ARGUMENT", "descriptor", store=served.store)


@pytest.mark.parametrize("path", [["..", "etc"], ["seq/a"]])
def test_an_upload_with_a_path_descriptor_is_refused(served: Served, path: list[str]) -> None:
    _seq_with_topic(served)

    def upload() -> None:
        writer, _ = served.raw.client.do_put(flight.FlightDescriptor.for_path(*path), SCHEMA)
        writer.write_batch(make_batch([1]))
        writer.close()

    expect(outcome(upload), "INVALID_ARGUMENT", "descriptor", store=served.store)


@pytest.mark.parametrize("criteria", [b"../", b"\x00", b"seq", b"*", b"/" * 100_000])
def test_list_flights_with_hostile_criteria(served: Served, criteria: bytes) -> None:
    result = outcome(lambda: served.wire.list_flights(criteria))
    expect(result, "INVALID_ARGUMENT", "criteria", store=served.store)
