"""Lifecycle races: calls that contend for one sequence, session or topic at the same moment.
Exactly one creator wins, finalize and upload serialise, deletes win over uploads and reads,
and every loser gets its precise status, never INTERNAL (spec §4.4, §5.4, §11).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.flight as flight
import pytest

from mosaico.server import StoreConfig
from tests.hostile.hostile_helpers import (
    Outcome,
    Served,
    embedded,
    expect,
    outcome,
    read_table,
    run_threads,
)
from tests.server.server_helpers import SCHEMA, make_batch

SMALL = StoreConfig(chunk_bytes=4096, row_group_bytes=1024)
ROUNDS = 4


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with embedded(tmp_path / "store", config=SMALL) as running:
        yield running


def _act(served: Served, name: str, request: Any) -> Outcome:
    return outcome(lambda: served.wire.action(name, request))


def _kinds(results: list[Outcome]) -> list[str]:
    return sorted(r.kind for r in results)


def _upload(served: Served, locator: str, topic_uuid: str, batches: int, pause: float) -> Outcome:
    command = json.dumps({"resource_locator": locator, "topic_uuid": topic_uuid})

    def run() -> None:
        writer, _ = served.raw.client.do_put(flight.FlightDescriptor.for_command(command), SCHEMA)
        for i in range(batches):
            writer.write_batch(make_batch(list(range(i * 200 + 200, i * 200, -1))))
            time.sleep(pause)
        writer.close()

    return outcome(run)


def _topic_request(session: dict[str, str], locator: str) -> dict[str, Any]:
    return {"session_uuid": session["uuid"], "locator": locator, "ontology_tag": "Thing",
            "serialization_format": "default", "user_metadata": {}}  # fmt: skip


# -- creators -------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["same", "normalised"])
def test_concurrent_creates_of_one_sequence_exactly_one_wins(served: Served, spelling: str) -> None:
    for round_ in range(ROUNDS):
        name = f"race{round_}"
        names = (
            [name] * 8 if spelling == "same" else [name, f"/{name}", f"{name}/", f"//{name}"] * 2
        )
        results = run_threads([
            lambda n=n: _act(served, "sequence_create", {"locator": n}) for n in names
        ])  # fmt: skip
        assert _kinds(results) == ["ALREADY_EXISTS"] * 7 + ["OK"], [str(r) for r in results]
        for result in results:
            expect(result, ("OK", "ALREADY_EXISTS"), name, store=served.store)
    assert served.wire.list_flights() == ROUNDS


@pytest.mark.parametrize("where", ["one session", "two sessions"])
def test_concurrent_creates_of_one_topic_exactly_one_wins(served: Served, where: str) -> None:
    first = served.raw.new_sequence("seq")
    second = (
        served.raw.action("session_create", {"locator": "seq"}) if where != "one session" else first
    )
    for round_ in range(ROUNDS):
        locator = f"seq/t{round_}"
        results = run_threads([
            lambda s=s, x=locator: _act(served, "topic_create", _topic_request(s, x))
            for s in [first, second] * 4
        ])  # fmt: skip
        assert _kinds(results) == ["ALREADY_EXISTS"] * 7 + ["OK"], [str(r) for r in results]
        for result in results:
            expect(result, ("OK", "ALREADY_EXISTS"), locator, store=served.store)
    meta = json.loads(served.raw.info("seq").app_metadata)
    assert sorted(t for s in meta["sessions"] for t in s["topics"]) == [
        f"seq/t{i}" for i in range(ROUNDS)
    ]


def test_concurrent_finalizes_of_one_session_exactly_one_wins(served: Served) -> None:
    for round_ in range(ROUNDS):
        session = served.raw.new_sequence(f"seq{round_}")
        request = {"session_uuid": session["uuid"]}
        results = run_threads([lambda r=request: _act(served, "session_finalize", r)] * 6)
        assert _kinds(results) == ["FAILED_PRECONDITION"] * 5 + ["OK"], [str(r) for r in results]
        for result in results:
            expect(result, ("OK", "FAILED_PRECONDITION"), store=served.store)


def test_concurrent_uploads_of_one_topic_exactly_one_wins(served: Served) -> None:
    for round_ in range(ROUNDS):
        session = served.raw.new_sequence(f"seq{round_}")
        locator = f"seq{round_}/t"
        uuid = served.raw.new_topic(session, locator)
        results = run_threads([lambda x=locator, u=uuid: _upload(served, x, u, 3, 0.0)] * 4)
        assert _kinds(results) == ["FAILED_PRECONDITION"] * 3 + ["OK"], [str(r) for r in results]
        for result in results:
            expect(result, ("OK", "FAILED_PRECONDITION"), locator, store=served.store)
        assert read_table(served.raw, locator).num_rows == 600


# -- finalize against uploads and topic creation ---------------------------------------------------


def _finalize_until_done(served: Served, session: dict[str, str]) -> list[Outcome]:
    """Finalize repeatedly until it succeeds (for at most 20 s); every attempt's outcome."""
    attempts = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        attempts.append(_act(served, "session_finalize", {"session_uuid": session["uuid"]}))
        if attempts[-1].kind == "OK":
            break
        time.sleep(0.002)
    return attempts


@pytest.mark.parametrize("head_start", [0.0, 0.02, 0.1])
def test_finalize_racing_an_upload(served: Served, head_start: float) -> None:
    for round_ in range(ROUNDS):
        session = served.raw.new_sequence(f"seq{round_}")
        locator = f"seq{round_}/t"
        uuid = served.raw.new_topic(session, locator)

        def finalizer(session: dict[str, str] = session) -> list[Outcome]:
            time.sleep(head_start)
            return _finalize_until_done(served, session)

        upload, attempts = run_threads(
            [lambda locator=locator, uuid=uuid: _upload(served, locator, uuid, 5, 0.01), finalizer]
        )
        assert attempts[-1].kind == "OK", [str(a) for a in attempts[-3:]]
        for attempt in attempts[:-1]:
            expect(attempt, "FAILED_PRECONDITION", store=served.store)
        # The upload either ran before finalize (all rows) or was refused (no row).
        expect(upload, ("OK", "FAILED_PRECONDITION"), store=served.store)
        rows = read_table(served.raw, locator).num_rows if upload.kind == "OK" else 0
        assert rows == (1000 if upload.kind == "OK" else 0)
        [endpoint] = served.raw.info(locator).endpoints
        meta = json.loads(endpoint.app_metadata)
        assert meta["locked"] is True and meta["data_info"]["total_row_count"] == rows


def test_topic_creates_racing_finalize(served: Served) -> None:
    for round_ in range(ROUNDS):
        session = served.raw.new_sequence(f"seq{round_}")
        creators = [
            lambda i=i, s=session, r=round_: _act(served, "topic_create",
                                                 _topic_request(s, f"seq{r}/t{i}"))
            for i in range(6)
        ]  # fmt: skip
        finalize = [lambda s=session: _act(served, "session_finalize", {"session_uuid": s["uuid"]})]
        *created, finalized = run_threads(creators + finalize)
        expect(finalized, "OK")
        for result in created:
            expect(result, ("OK", "FAILED_PRECONDITION"), store=served.store)
        meta = json.loads(served.raw.info(f"seq{round_}").app_metadata)
        [listed] = meta["sessions"]
        assert len(listed["topics"]) == sum(r.kind == "OK" for r in created)
        assert listed["locked"] is True


# -- deletes against uploads and other writers -------------------------------------------------------


def _delete(served: Served, how: str, session: dict[str, str], name: str) -> Outcome:
    if how == "sequence_delete":
        return _act(served, how, {"locator": name})
    if how == "session_delete":
        return _act(served, how, {"locator": session["locator"]})
    return _act(served, how, {"locator": f"{name}/t"})


@pytest.mark.parametrize("how", ["sequence_delete", "session_delete", "topic_delete"])
def test_a_delete_during_an_upload(served: Served, how: str) -> None:
    for round_ in range(ROUNDS):
        name = f"seq{round_}"
        session = served.raw.new_sequence(name)
        uuid = served.raw.new_topic(session, f"{name}/t")

        def deleter(
            session: dict[str, str] = session, name: str = name, r: int = round_
        ) -> Outcome:
            time.sleep(0.03 * (r + 1))
            return _delete(served, how, session, name)

        upload, deleted = run_threads(
            [lambda name=name, uuid=uuid: _upload(served, f"{name}/t", uuid, 30, 0.005), deleter]
        )
        expect(deleted, "OK")
        expect(upload, ("OK", "NOT_FOUND"), store=served.store)
        expect(outcome(lambda name=name: served.wire.info({"resource_locator": f"{name}/t"})),
               "NOT_FOUND")  # fmt: skip
        # No file of the deleted topic is left, and its locator can be used again.
        assert [p for p in (served.store / "chunks").rglob("*") if p.is_file()] == []
        assert list((served.store / "tmp").iterdir()) == []
        again = served.raw.action("session_create", {"locator": name}) if how != "sequence_delete" \
            else served.raw.new_sequence(name)  # fmt: skip
        new_uuid = served.raw.new_topic(again, f"{name}/t")
        expect(_upload(served, f"{name}/t", new_uuid, 2, 0.0), "OK")
        assert read_table(served.raw, f"{name}/t").num_rows == 400
        served.raw.action("sequence_delete", {"locator": name})


def test_topic_creates_racing_a_session_delete(served: Served) -> None:
    for round_ in range(ROUNDS):
        name = f"seq{round_}"
        session = served.raw.new_sequence(name)
        creators = [
            lambda i=i, s=session, n=name: _act(served, "topic_create", _topic_request(s, f"{n}/t{i}"))
            for i in range(6)
        ]  # fmt: skip
        delete = [lambda s=session: _act(served, "session_delete", {"locator": s["locator"]})]
        *created, deleted = run_threads(creators + delete)
        expect(deleted, "OK")
        for result in created:
            expect(result, ("OK", "NOT_FOUND"), store=served.store)
        meta = json.loads(served.raw.info(name).app_metadata)
        assert meta["sessions"] == [] and served.raw.info(name).endpoints == []


def test_notifications_racing_a_sequence_delete(served: Served) -> None:
    for round_ in range(ROUNDS):
        name = f"seq{round_}"
        served.raw.new_sequence(name)
        note = {"locator": name, "notification_type": "error", "msg": "m"}
        writers = [lambda n=note: _act(served, "sequence_notification_create", n)] * 6
        listers = [lambda n=name: _act(served, "sequence_notification_list", {"locator": n})] * 2
        delete = [lambda n=name: _act(served, "sequence_delete", {"locator": n})]
        *others, deleted = run_threads(writers + listers + delete)
        expect(deleted, "OK")
        for result in others:
            expect(result, ("OK", "NOT_FOUND"), store=served.store)
        served.raw.new_sequence(name)  # the name is free again, with no notification left over
        assert served.raw.action("sequence_notification_list", {"locator": name}) == {
            "notifications": []
        }
