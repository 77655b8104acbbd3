"""Malformed DoAction bodies: each gets its precise status and a short, clean message, and
nothing it tried leaves the server worse off (issue 11, items 1-5, 10 and the metadata limit).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mosaico.protocol.actions import ActionName
from tests.hostile.hostile_helpers import (
    Canary,
    Outcome,
    Served,
    embedded,
    expect,
    expect_any_of,
    outcome,
    strict_json,
    write_sequence,
)
from tests.server.server_helpers import make_batch

BIG = "9" * 5000  # more digits than Python converts by default (4300)
LONG = 100_000  # a 100 KB input
SLOW_GLOB = "*a*a*a*a*a*a*a*a*a*a*b"  # backtracks combinatorially against 34 'a's
A34 = "a" * 34


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with embedded(tmp_path / "store") as running:
        yield running


@pytest.fixture
def canary(served: Served) -> Canary:
    return Canary.write(served.raw)


def _action(served: Served, name: str, request: Any) -> Outcome:
    return outcome(lambda: served.wire.action(name, request))


def _session(served: Served, name: str) -> dict[str, str]:
    return served.raw.new_sequence(name)


def _still_serving(served: Served, canary: Canary) -> None:
    """Queries, listings, descriptions and deletion work for everyone after an attack."""
    expect(_action(served, "query", {}), "OK")
    expect(_action(served, "sequence_notification_list", {"locator": canary.name}), "OK")
    expect(outcome(lambda: served.wire.list_flights()), "OK")
    canary.check(served.raw)


# -- bodies that are not what the action takes ---------------------------------------------


@pytest.mark.parametrize("action", [a.value for a in ActionName])
def test_a_body_that_is_not_json_is_refused(served: Served, action: str) -> None:
    result = _action(served, action, b'{"locator": not json')
    expect(result, "INVALID_ARGUMENT", action, store=served.store)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (b"", ()),
        (b"   ", ()),
        (b"[]", ()),
        (b"null", ()),
        (b'"locator"', ()),
        (b"\xff\xfe{}", ("utf-8",)),
        (b"{}", ("locator",)),
        (b'{"locator": 7}', ("locator",)),
        (b'{"locator": null}', ("locator",)),
        (b'{"locator": ["a"]}', ("locator",)),
        (b'{"locator": "ok", "user_metadata": []}', ("user_metadata",)),
        (b'{"locator": "ok", "user_metadata": "x"}', ("user_metadata",)),
        (b'{"locator": "ok"} trailing', ()),
        (b'{"locator": "ok",}', ()),
    ],
    ids=lambda v: repr(v)[:40] if isinstance(v, bytes) else None,
)
def test_sequence_create_bodies_of_the_wrong_shape(
    served: Served, raw: bytes, names: tuple[str, ...]
) -> None:
    result = _action(served, "sequence_create", raw)
    expect(result, "INVALID_ARGUMENT", "sequence_create", *names, store=served.store)
    assert served.wire.list_flights() == 0


# -- nesting (issue item 2, 10) ---------------------------------------------------------------


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _deep_body(action: str, depth: int, session: dict[str, str]) -> bytes:
    nest = _nested(depth)
    if action == "sequence_create":
        return ('{"locator": "deep", "user_metadata": ' + nest + "}").encode()
    if action == "topic_create":
        head = {"session_uuid": session["uuid"], "locator": "host/t", "ontology_tag": "Thing",
                "serialization_format": "default"}  # fmt: skip
        return (json.dumps(head)[:-1] + ', "user_metadata": ' + nest + "}").encode()
    target = "host" if action == "sequence_notification_create" else "host/a"
    head = {"locator": target, "notification_type": "error", "msg": "m"}
    return (json.dumps(head)[:-1] + ', "details": ' + nest + "}").encode()


@pytest.mark.parametrize("depth", [990, 100_000])
@pytest.mark.parametrize(
    "action",
    [
        "sequence_create",
        "topic_create",
        "sequence_notification_create",
        "topic_notification_create",
    ],  # fmt: skip
)
def test_deeply_nested_bodies_are_refused(tmp_path: Path, action: str, depth: int) -> None:
    store = tmp_path / "store"
    with embedded(store) as served:
        canary = Canary.write(served.raw)
        session = write_sequence(served.raw, "host", {"a": make_batch([1, 2])}, finalize=False)
        result = _action(served, action, _deep_body(action, depth, session))
        expect(result, "INVALID_ARGUMENT", store=store)
        expect_any_of(result, "deep", "depth", "nest")
        _still_serving(served, canary)
        expect(_action(served, "sequence_notification_list", {"locator": "host"}), "OK")
        expect(_action(served, "topic_notification_list", {"locator": "host/a"}), "OK")
    with embedded(store) as served:  # and after a restart
        _still_serving(served, canary)
        expect(_action(served, "sequence_delete", {"locator": "host"}), "OK")
        expect(_action(served, "sequence_delete", {"locator": "deep"}), "NOT_FOUND")


def test_a_deeply_nested_query_operand_is_refused(served: Served, canary: Canary) -> None:
    nest = "[" * 100_000 + "]" * 100_000
    raw = ('{"sequence": {"user_metadata": {"k": {"$in": ' + nest + "}}}}").encode()
    result = _action(served, "query", raw)
    expect(result, "INVALID_ARGUMENT", store=served.store)
    expect_any_of(result, "deep", "depth", "nest")
    _still_serving(served, canary)


# -- lone surrogates (issue item 3) ---------------------------------------------------------

SURROGATE = '"\\ud800"'  # a JSON escape of a lone UTF-16 surrogate, as raw body text


def _surrogate_body(place: str, session: dict[str, str]) -> bytes:
    if place == "sequence metadata value":
        text = '{"locator": "poisoned", "user_metadata": {"s": ' + SURROGATE + "}}"
    elif place == "sequence metadata key":
        text = '{"locator": "poisoned", "user_metadata": {' + SURROGATE + ": 1}}"
    elif place == "topic metadata":
        head = {"session_uuid": session["uuid"], "locator": "host/t", "ontology_tag": "Thing",
                "serialization_format": "default"}  # fmt: skip
        text = json.dumps(head)[:-1] + ', "user_metadata": {"s": ' + SURROGATE + "}}"
    elif place == "query operand":
        text = '{"sequence": {"user_metadata": {"s": {"$eq": ' + SURROGATE + "}}}}"
    else:
        target = "host" if place == "sequence notification" else "host/a"
        text = json.dumps({"locator": target, "notification_type": "error"})[:-1]
        text += ', "msg": ' + SURROGATE + "}"
    return text.encode()


_SURROGATE_ACTIONS = {
    "sequence metadata value": "sequence_create",
    "sequence metadata key": "sequence_create",
    "topic metadata": "topic_create",
    "sequence notification": "sequence_notification_create",
    "topic notification": "topic_notification_create",
    "query operand": "query",
}


@pytest.mark.parametrize("place", list(_SURROGATE_ACTIONS))
def test_a_lone_surrogate_is_refused(served: Served, canary: Canary, place: str) -> None:
    session = write_sequence(served.raw, "host", {"a": make_batch([1, 2])}, finalize=False)
    result = _action(served, _SURROGATE_ACTIONS[place], _surrogate_body(place, session))
    expect(result, "INVALID_ARGUMENT", store=served.store)
    expect_any_of(result, "surrogate", "utf-8", "unicode")
    # Nothing poisoned: every description and listing still answers.
    expect(outcome(lambda: served.wire.info({"resource_locator": "host"})), "OK")
    expect(_action(served, "sequence_notification_list", {"locator": "host"}), "OK")
    expect(_action(served, "topic_notification_list", {"locator": "host/a"}), "OK")
    _still_serving(served, canary)


def test_a_surrogate_pair_is_a_character_and_round_trips(served: Served) -> None:
    raw = b'{"locator": "emoji", "user_metadata": {"s": "\\ud83d\\ude00"}}'
    expect(_action(served, "sequence_create", raw), "OK")
    meta = json.loads(served.raw.info("emoji").app_metadata)
    assert meta["user_metadata"] == {"s": "\U0001f600"}


# -- numbers (issue item 10) -----------------------------------------------------------------


def _number_case(place: str, literal: str, served: Served) -> Outcome:
    """Send ``literal`` (raw JSON text) at ``place``; return what came back."""
    if place == "sequence metadata":
        raw = '{"locator": "num", "user_metadata": {"n": ' + literal + "}}"
        return _action(served, "sequence_create", raw.encode())
    if place == "topic metadata":
        session = _session(served, "num")
        head = {"session_uuid": session["uuid"], "locator": "num/t", "ontology_tag": "Thing",
                "serialization_format": "default"}  # fmt: skip
        raw = json.dumps(head)[:-1] + ', "user_metadata": {"n": ' + literal + "}}"
        return _action(served, "topic_create", raw.encode())
    if place == "ignored key":
        raw = '{"session_uuid": "' + str(uuid.uuid4()) + '", "extra": ' + literal + "}"
        return _action(served, "session_finalize", raw.encode())
    if place == "query operand":
        raw = '{"ontology": {"Thing.value": {"$gt": ' + literal + "}}}"
        return _action(served, "query", raw.encode())
    if place == "metadata query operand":
        raw = '{"topic": {"user_metadata": {"n": {"$lt": ' + literal + "}}}}"
        return _action(served, "query", raw.encode())
    if place == "clusterize":
        raw = ('{"locator": "canary/a", "clustering_dt_ns": ' + literal
               + ', "ontology": {}, "timestamp_range": null}')  # fmt: skip
        return _action(served, "topic_filter_clusterize", raw.encode())
    if place == "flight info window":
        raw = '{"resource_locator": "canary", "timestamp_ns_start": ' + literal + "}"
        return outcome(lambda: served.wire.info(raw.encode()))
    assert place == "ticket window"
    raw = '{"locator": "canary/a", "start_ns": ' + literal + ', "end_ns": null}'
    return outcome(lambda: served.wire.do_get(raw.encode()))


_NUMBER_PLACES = ["sequence metadata", "topic metadata", "ignored key", "query operand",
                  "metadata query operand", "clusterize", "flight info window",
                  "ticket window"]  # fmt: skip


@pytest.mark.parametrize("place", _NUMBER_PLACES)
def test_a_5000_digit_integer_is_refused(served: Served, canary: Canary, place: str) -> None:
    result = _number_case(place, BIG, served)
    expect(result, "INVALID_ARGUMENT", store=served.store)
    expect_any_of(result, "digit", "integer", "number", "large")
    _still_serving(served, canary)


@pytest.mark.parametrize("literal", ["-" + BIG, BIG + ".5", "1e400", "-1e400"])
def test_numbers_too_large_in_other_spellings_are_refused(
    served: Served, canary: Canary, literal: str
) -> None:
    # 1e400 parses to an infinite float: the same invalid JSON as Infinity when echoed.
    result = _number_case("sequence metadata", literal, served)
    expect(result, "INVALID_ARGUMENT", store=served.store)
    assert served.wire.list_flights() == 1  # only the canary


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("place", ["sequence metadata", "topic metadata", "query operand",
                                   "clusterize"])  # fmt: skip
def test_nan_and_infinity_are_refused(
    served: Served, canary: Canary, place: str, literal: str
) -> None:
    result = _number_case(place, literal, served)
    expect(result, "INVALID_ARGUMENT", store=served.store)
    expect_any_of(result, "nan", "infinity", "number", "json", "float", "integer")
    # Nothing stored that would be echoed back as invalid JSON.
    for name in [info.descriptor.path[0].decode() for info in served.raw.client.list_flights()]:
        info = served.raw.info(name)
        for document in [info.app_metadata] + [e.app_metadata for e in info.endpoints]:
            strict_json(document)
    _still_serving(served, canary)


def test_a_5000_digit_list_index_in_an_ontology_key_is_refused(
    served: Served, canary: Canary
) -> None:
    result = _action(served, "query", {"ontology": {f"Thing.positions[{BIG}]": {"$gt": 1.0}}})
    expect(result, "INVALID_ARGUMENT", "Thing.positions", store=served.store)
    _still_serving(served, canary)


# -- long inputs: the error itself stays small (issue item 4) -------------------------------


def _long_case(case: str, served: Served) -> Outcome:
    long_name = "a" * LONG
    if case == "invalid sequence name":
        return _action(served, "sequence_create", {"locator": long_name + "!"})
    if case == "duplicate sequence name":
        first = _action(served, "sequence_create", {"locator": long_name})
        if first.kind != "OK":  # a server may cap name lengths: then that is the refusal
            return first
        return _action(served, "sequence_create", {"locator": long_name})
    if case == "unknown sequence":
        return outcome(lambda: served.wire.info({"resource_locator": "b" * LONG}))
    if case == "notification type":
        body = {"locator": "canary", "notification_type": "x" * LONG, "msg": "m"}
        return _action(served, "sequence_notification_create", body)
    if case == "session uuid":
        return _action(served, "session_finalize", {"session_uuid": "z" * LONG})
    if case == "ontology tag":
        session = _session(served, "tagged")
        body = {"session_uuid": session["uuid"], "locator": "tagged/t", "ontology_tag":
                "T\x01" + "x" * LONG, "serialization_format": "default"}  # fmt: skip
        return _action(served, "topic_create", body)
    if case == "query section":
        return _action(served, "query", {"sequence": ["x" * LONG]})
    if case == "query operator":
        return _action(served, "query", {"sequence": {"name": {"$" + "q" * LONG: 1}}})
    if case == "ticket":
        ticket = {"locator": long_name + "!/t", "start_ns": None, "end_ns": None}
        return outcome(lambda: served.wire.do_get(ticket))
    assert case == "action name"
    return _action(served, "x" * LONG, {})


_LONG_CASES = ["invalid sequence name", "duplicate sequence name", "unknown sequence",
               "notification type", "session uuid", "ontology tag", "query section",
               "query operator", "ticket", "action name"]  # fmt: skip


@pytest.mark.parametrize("case", _LONG_CASES)
def test_an_error_about_a_100_kb_input_stays_bounded(
    served: Served, canary: Canary, case: str
) -> None:
    result = _long_case(case, served)
    assert result.kind != "RESOURCE_EXHAUSTED", f"the error itself failed: {result}"
    expected = {"duplicate sequence name": ("ALREADY_EXISTS", "INVALID_ARGUMENT"),
                "unknown sequence": ("NOT_FOUND", "INVALID_ARGUMENT"),
                "action name": ("UNIMPLEMENTED", "INVALID_ARGUMENT")}  # fmt: skip
    expect(result, expected.get(case, "INVALID_ARGUMENT"), store=served.store)
    _still_serving(served, canary)


def test_a_100_kb_error_through_the_pyarrow_client_is_invalid_argument(served: Served) -> None:
    import pyarrow.flight as flight

    name = json.dumps({"locator": "a" * LONG + "!"}).encode()
    result = outcome(
        lambda: list(served.raw.client.do_action(flight.Action("sequence_create", name)))
    )
    expect(result, "INVALID_ARGUMENT", "sequence name", store=served.store)


# -- the metadata size limit that info advertises ---------------------------------------------


def _metadata_limit(served: Served) -> tuple[str, int]:
    [reply] = served.wire.action("info", {})
    candidates = {**reply, **reply.get("config", {})}
    found = [(k, v) for k, v in candidates.items() if "metadata" in k and isinstance(v, int)]
    if not found:
        pytest.fail(f"the info reply advertises no metadata size limit: {sorted(candidates)}")
    return found[0]


@pytest.mark.parametrize("action", ["sequence_create", "topic_create"])
def test_metadata_over_the_advertised_limit_is_refused_naming_it(
    served: Served, action: str
) -> None:
    key, limit = _metadata_limit(served)
    session = _session(served, "host")
    over = {"blob": "x" * (limit + 1)}
    under = {"blob": "x" * (limit - 64)}
    for metadata, wanted in ((over, "INVALID_ARGUMENT"), (under, "OK")):
        if action == "sequence_create":
            request = {"locator": f"big-{wanted}", "user_metadata": metadata}
        else:
            request = {"session_uuid": session["uuid"], "locator": f"host/{wanted}",
                       "ontology_tag": "Thing", "serialization_format": "default",
                       "user_metadata": metadata}  # fmt: skip
        result = _action(served, action, request)
        expect(result, wanted, "user_metadata", store=served.store)
        if wanted != "OK":
            assert str(limit) in result.message, (
                f"the refusal does not name {key}={limit}: {result}"
            )


# -- $match globs (issue item 1) -----------------------------------------------------------------


def _glob_fixture(served: Served, target: str) -> dict[str, Any]:
    """A resource whose matched string is 34 'a's, and the query matching SLOW_GLOB on it."""
    if target == "sequence name":
        write_sequence(served.raw, A34, {"t": make_batch([1])})
        return {"sequence": {"name": {"$match": SLOW_GLOB}}}
    if target == "topic name":
        write_sequence(served.raw, "host", {A34: make_batch([1])})
        return {"topic": {"name": {"$match": SLOW_GLOB}}}
    write_sequence(served.raw, "host", {"t": make_batch([1])}, metadata={"k": A34})
    return {"sequence": {"user_metadata": {"k": {"$match": SLOW_GLOB}}}}


@pytest.mark.parametrize("target", ["sequence name", "topic name", "metadata value"])
def test_a_backtracking_glob_answers_quickly_and_blocks_no_one(served: Served, target: str) -> None:
    query = _glob_fixture(served, target)
    done: dict[str, Any] = {}

    def run_query() -> None:
        started = time.perf_counter()
        done["result"] = _action(served, "query", query)
        done["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=run_query, daemon=True)
    thread.start()
    time.sleep(0.05)  # the query is under way
    started = time.perf_counter()
    expect(_action(served, "info", {}), "OK")
    other = time.perf_counter() - started
    thread.join(60)
    assert not thread.is_alive(), "the glob query did not finish within a minute"
    expect(done["result"], "OK")
    assert done["result"].value == [{"items": []}]
    # Liveness bounds, generous: a linear matcher answers in milliseconds.
    assert other < 2.0, f"another call waited {other:.2f} s behind the glob"
    assert done["seconds"] < 2.0, f"the glob took {done['seconds']:.2f} s"


@pytest.mark.parametrize(
    "query",
    [
        {"sequence": {"name": {"$match": "[ab]" * 30_000}}},
        {"topic": {"name": {"$match": "[ab]" * 30_000}}},
        {"sequence": {"user_metadata": {"k": {"$match": "[ab]" * 30_000}}}},
        {"ontology": {"Thing.label": {"$match": "[ab]" * 30_000}}},
    ],
    ids=["sequence name", "topic name", "metadata", "ontology column"],
)
def test_a_match_pattern_over_the_length_limit_is_refused(
    served: Served, canary: Canary, query: dict[str, Any]
) -> None:
    result = _action(served, "query", query)
    expect(result, "INVALID_ARGUMENT", store=served.store)
    expect_any_of(result, "$match", "pattern", "glob")
    _still_serving(served, canary)


# -- assorted malformed queries ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"sections": {}}, ("sections",)),
        ({"sequence": {"name": {"$like": "x"}}}, ("$like",)),
        ({"sequence": {"name": {"$eq": "a", "$neq": "b"}}}, ("sequence.name",)),
        ({"sequence": {"created_at_ns": {"$between": [1]}}}, ("created_at_ns",)),
        ({"sequence": {"name": {"$in": "abc"}}}, ("$in",)),
        ({"sequence": {"name": {"$match": 7}}}, ("$match",)),
        ({"ontology": {"NoDot": {"$eq": 1}}}, ("NoDot",)),
        ({"ontology": {"": {"$eq": 1}}}, ()),
        ({"ontology": {"Thing.value": {"$gt": "text"}}}, ("Thing.value",)),
        ({"topic": {"user_metadata": ["x"]}}, ("user_metadata",)),
    ],
    ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None,
)
def test_malformed_queries_are_refused_naming_the_key(
    served: Served, canary: Canary, query: dict[str, Any], names: tuple[str, ...]
) -> None:
    expect(_action(served, "query", query), "INVALID_ARGUMENT", *names, store=served.store)


@pytest.mark.parametrize("name", ["", "INFO", "info\x00", "../info", "query;drop"])
def test_unknown_action_names(served: Served, name: str) -> None:
    result = _action(served, name, {})
    expect(result, ("UNIMPLEMENTED", "INVALID_ARGUMENT"), store=served.store)
