"""Hostile reads: malformed GetFlightInfo commands and DoGet tickets, deletion in the middle
of a stream, reads racing an upload. Each gets its precise status, and no reply carries a
chunk path (issue 11, item 5; spec §7).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest

from mosaico.protocol.info import Limits
from mosaico.server import StoreConfig
from tests.hostile.hostile_helpers import (
    Canary,
    Outcome,
    Served,
    embedded,
    expect,
    outcome,
    read_table,
    run_threads,
    write_sequence,
)
from tests.server.server_helpers import SCHEMA, make_batch

# Tiny chunks and tiny DoGet batches: a read of a few thousand rows is a long stream.
STREAMY = StoreConfig(
    limits=Limits(grpc_target_encode_message_size=4096), chunk_bytes=4096, row_group_bytes=1024
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with embedded(tmp_path / "store", config=STREAMY) as running:
        yield running


@pytest.fixture
def canary(served: Served) -> Canary:
    return Canary.write(served.raw)


# -- GetFlightInfo commands (spec §7.1) -----------------------------------------------------------

INFO_COMMANDS: list[tuple[Any, str, tuple[str, ...]]] = [
    (b"not json", "INVALID_ARGUMENT", ("resource command",)),
    (b"", "INVALID_ARGUMENT", ("resource command",)),
    (b'["canary"]', "INVALID_ARGUMENT", ("resource command",)),
    ({}, "INVALID_ARGUMENT", ("resource_locator",)),
    ({"resource_locator": 7}, "INVALID_ARGUMENT", ("resource_locator",)),
    ({"resource_locator": None}, "INVALID_ARGUMENT", ("resource_locator",)),
    ({"resource_locator": "canary:01AB"}, "INVALID_ARGUMENT", ("session",)),
    (
        {"resource_locator": "canary", "timestamp_ns_start": 5, "timestamp_ns_end": 5},
        "INVALID_ARGUMENT",
        ("start_ns",),
    ),  # fmt: skip
    (
        {"resource_locator": "canary", "timestamp_ns_start": 1.5},
        "INVALID_ARGUMENT",
        ("timestamp_ns_start",),
    ),  # fmt: skip
    (
        {"resource_locator": "canary", "timestamp_ns_start": True},
        "INVALID_ARGUMENT",
        ("timestamp_ns_start",),
    ),  # fmt: skip
    (
        {"resource_locator": "canary", "timestamp_ns_end": "9"},
        "INVALID_ARGUMENT",
        ("timestamp_ns_end",),
    ),  # fmt: skip
    (
        {"resource_locator": "canary", "timestamp_ns_start": 2**63},
        "INVALID_ARGUMENT",
        ("timestamp_ns_start",),
    ),  # fmt: skip
    (
        {"resource_locator": "canary", "timestamp_ns_end": -(2**63) - 1},
        "INVALID_ARGUMENT",
        ("timestamp_ns_end",),
    ),  # fmt: skip
    ({"resource_locator": "ghost"}, "NOT_FOUND", ("ghost",)),
    ({"resource_locator": "canary/ghost"}, "NOT_FOUND", ("canary/ghost",)),
]


@pytest.mark.parametrize(("command", "kind", "names"), INFO_COMMANDS)
def test_hostile_flight_info_commands(
    served: Served, canary: Canary, command: Any, kind: str, names: tuple[str, ...]
) -> None:
    expect(outcome(lambda: served.wire.info(command)), kind, *names, store=served.store)
    canary.check(served.raw)


# -- DoGet tickets (spec §7.5) -----------------------------------------------------------------------

TICKETS: list[tuple[Any, str, tuple[str, ...]]] = [
    (b"", "INVALID_ARGUMENT", ("ticket",)),
    (b"\x00\xff\xfe", "INVALID_ARGUMENT", ("ticket",)),
    (b"[1, 2]", "INVALID_ARGUMENT", ("ticket",)),
    ({}, "INVALID_ARGUMENT", ("locator",)),
    ({"locator": "canary"}, "INVALID_ARGUMENT", ("canary",)),
    ({"locator": "canary/a", "start_ns": 9, "end_ns": 9}, "INVALID_ARGUMENT", ("start_ns",)),
    ({"locator": "canary/a", "start_ns": 0.5}, "INVALID_ARGUMENT", ("start_ns",)),
    ({"locator": "canary/a", "end_ns": "10"}, "INVALID_ARGUMENT", ("end_ns",)),
    ({"locator": "canary/a", "start_ns": 2**64}, "INVALID_ARGUMENT", ("start_ns",)),
    ({"locator": "canary/ghost"}, "NOT_FOUND", ("canary/ghost",)),
    ({"locator": "ghost/a"}, "NOT_FOUND", ("ghost",)),
]


@pytest.mark.parametrize(("ticket", "kind", "names"), TICKETS)
def test_hostile_tickets(
    served: Served, canary: Canary, ticket: Any, kind: str, names: tuple[str, ...]
) -> None:
    expect(outcome(lambda: served.wire.do_get(ticket)), kind, *names, store=served.store)
    canary.check(served.raw)


def test_get_schema_of_a_sequence_an_unknown_topic_and_an_empty_topic(served: Served) -> None:
    session = served.raw.new_sequence("seq")
    served.raw.new_topic(session, "seq/empty")
    expect(outcome(lambda: served.wire.schema({"resource_locator": "seq"})), "INVALID_ARGUMENT",
           "seq", store=served.store)  # fmt: skip
    expect(outcome(lambda: served.wire.schema({"resource_locator": "seq/ghost"})), "NOT_FOUND",
           "seq/ghost", store=served.store)  # fmt: skip
    command = flight.FlightDescriptor.for_command(b'{"resource_locator": "seq/empty"}')
    assert served.raw.client.get_schema(command).schema.names == []


def test_a_window_without_rows_is_a_schema_and_no_batch(served: Served, canary: Canary) -> None:
    schema, batches = served.raw.read("canary/a", timestamp_ns_start=10**12)
    assert schema.equals(canary.table.schema) and batches == []


# -- deletion during a read (issue item 5) ----------------------------------------------------------

ROWS = 6000


def _big_sequence(served: Served) -> tuple[dict[str, str], pa.Table]:
    session = write_sequence(served.raw, "big", {"t": make_batch(list(range(ROWS, 0, -1)))})
    return session, read_table(served.raw, "big/t")


def _delete(served: Served, how: str, session: dict[str, str]) -> None:
    if how == "sequence_delete":
        served.wire.action(how, {"locator": "big"})
    elif how == "session_delete":
        served.wire.action(how, {"locator": session["locator"]})
    else:
        served.wire.action(how, {"locator": "big/t"})


def _read_across_delete(served: Served, how: str, session: dict[str, str]) -> tuple[int, Outcome]:
    """Start a read, delete mid-stream, read on; returns the rows got and how it ended."""
    reader = served.raw.client.do_get(served.raw.info("big/t").endpoints[0].ticket)
    first = reader.read_chunk().data
    _delete(served, how, session)
    got = [first]

    def rest() -> None:
        for chunk in reader:
            got.append(chunk.data)

    ended = outcome(rest)
    timestamps = [t for b in got for t in b.column(0).to_pylist()]
    assert timestamps == sorted(timestamps)
    return len(timestamps), ended


@pytest.mark.parametrize("how", ["sequence_delete", "session_delete", "topic_delete"])
def test_a_delete_during_a_read_gives_complete_data_or_a_clean_not_found(
    served: Served, how: str
) -> None:
    session, table = _big_sequence(served)
    rows, ended = _read_across_delete(served, how, session)
    if ended.kind == "OK":
        assert rows == table.num_rows, f"the stream ended early without an error: {rows} rows"
    else:
        expect(ended, "NOT_FOUND", store=served.store)
        assert ".parquet" not in ended.details and "chunks/" not in ended.details, ended
    expect(outcome(lambda: served.wire.info({"resource_locator": "big/t"})), "NOT_FOUND")
    # Nothing of the deleted topic stays on disk once its reader is gone.
    assert list((served.store / "chunks").iterdir()) == []


def test_readers_racing_a_delete_get_all_rows_or_not_found(served: Served) -> None:
    for _ in range(5):  # rounds: the race has several windows
        session, table = _big_sequence(served)
        ticket = served.raw.info("big/t").endpoints[0].ticket

        def reader(table: pa.Table = table, ticket: flight.Ticket = ticket) -> Outcome:
            return outcome(lambda: pa.Table.from_batches(
                [c.data for c in served.raw.client.do_get(ticket)], schema=table.schema
            ))  # fmt: skip

        def deleter() -> Outcome:
            return outcome(lambda: served.wire.action("sequence_delete", {"locator": "big"}))

        results = run_threads([reader] * 8 + [deleter])
        expect(results[-1], "OK")
        for result in results[:-1]:
            expect(result, ("OK", "NOT_FOUND"), store=served.store)
            if result.kind == "OK":
                got = result.value
                assert got.num_rows == table.num_rows, f"a read ended early: {got.num_rows} rows"
                assert got.equals(table)


def test_reads_while_uploading_see_committed_rows_sorted(served: Served) -> None:
    session = served.raw.new_sequence("live")
    uuid = served.raw.new_topic(session, "live/t")
    command = json.dumps({"resource_locator": "live/t", "topic_uuid": uuid})
    writer, _ = served.raw.client.do_put(flight.FlightDescriptor.for_command(command), SCHEMA)
    seen = []
    for start in range(0, 5000, 500):
        writer.write_batch(make_batch(list(range(start + 500, start, -1))))
        result = outcome(lambda: read_table(served.raw, "live/t"))
        expect(result, "OK")
        stamps = result.value.column(0).to_pylist() if result.value.num_columns else []
        assert stamps == sorted(stamps)
        seen.append(len(stamps))
    writer.close()
    assert seen == sorted(seen)
    assert read_table(served.raw, "live/t").column(0).to_pylist() == list(range(1, 5001))
