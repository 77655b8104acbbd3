"""Load with kill -9 rounds against `mosaico serve` as a process: 16 writers and 8 readers
hammer the server, which is killed with SIGKILL mid-load and restarted, several times.
Afterwards every finalized sequence reads back intact, the store holds no orphan file, and
the sessions left unfinished are visible and deletable (design: reliability rules). On each
backend: over a shared catalog a restarted server takes over what a killed one left once
its lease has passed.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import attrs
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from tests.backends import SCALE_LEASE_S, Backend
from tests.hostile.hostile_helpers import Outcome, expect, outcome
from tests.server.server_helpers import Raw, make_batch

WRITERS, READERS, ROUNDS = 16, 8, 3
LOAD_SECONDS = 2.5  # per round, before the kill


def _rows(locator: str) -> pa.RecordBatch:
    """The rows a writer uploads to ``locator``: unsorted, their count fixed by the name."""
    count = 100 + zlib.crc32(locator.encode()) % 1500
    return make_batch(list(range(count, 0, -1)))


@attrs.define
class Load:
    """What the load left: sequences acknowledged finalized, calls that failed, counts."""

    backend: Backend
    store: Path
    finalized: dict[str, list[str]] = attrs.field(factory=dict)  # sequence -> topic locators
    failures: list[tuple[str, Outcome]] = attrs.field(factory=list)  # (what, outcome)
    mismatches: list[str] = attrs.field(factory=list)
    rows_written: int = 0
    reads: int = 0
    kills: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def fail(self, what: str, result: Outcome, killed_at: list[float]) -> None:
        # A call that fails once the server is being killed is expected; one before is not.
        if killed_at:
            return
        with self.lock:
            self.failures.append((what, result))


def _writer(raw: Raw, load: Load, index: int, round_: int, stop: threading.Event,
            killed_at: list[float]) -> None:  # fmt: skip
    n = 0
    while not stop.is_set():
        name = f"w{index}-r{round_}-{n}"
        n += 1
        topics = [f"{name}/t{k}" for k in range(1 + n % 2)]
        leave_open = n % 5 == 0  # some sessions are left unfinished on purpose

        def write(
            name: str = name, topics: list[str] = topics, leave_open: bool = leave_open
        ) -> int:
            session = raw.new_sequence(name, {"writer": index})
            rows = 0
            for locator in topics:
                uuid = raw.new_topic(session, locator)
                batch = _rows(locator)
                raw.put(locator, uuid, [batch.slice(0, 50), batch.slice(50)])
                rows += batch.num_rows
            if not leave_open:
                raw.action("session_finalize", {"session_uuid": session["uuid"]})
            return rows

        result = outcome(write)
        if result.kind != "OK":
            load.fail(f"write {name}", result, killed_at)
            return
        with load.lock:
            load.rows_written += result.value
            if not leave_open:
                load.finalized[name] = topics


def _check_sequence(raw: Raw, name: str, topics: list[str]) -> str | None:
    """None if the sequence reads back exactly as written, else what differs."""
    for locator in topics:
        schema, batches = raw.read(locator)
        got = pa.Table.from_batches(batches, schema=schema)
        want = pa.Table.from_batches([_rows(locator)]).sort_by("timestamp_ns")
        if not got.equals(want):
            return f"{locator}: {got.num_rows} rows read, {want.num_rows} written"
    meta = json.loads(raw.info(name).app_metadata)
    if not all(s["locked"] for s in meta["sessions"]):
        return f"{name}: a finalized session is not locked"
    return None


def _reader(raw: Raw, load: Load, stop: threading.Event, killed_at: list[float]) -> None:
    rng = random.Random(7)
    while not stop.is_set():
        with load.lock:
            known = list(load.finalized.items())
        if not known:
            time.sleep(0.01)
            continue
        name, topics = rng.choice(known)
        result = outcome(lambda name=name, topics=topics: _check_sequence(raw, name, topics))
        if result.kind != "OK":
            load.fail(f"read {name}", result, killed_at)
            return
        with load.lock:
            load.reads += 1
            if result.value is not None:
                load.mismatches.append(result.value)


def _round(load: Load, round_: int) -> None:
    """Serve, load, check what earlier rounds finalized, then kill -9 mid-load."""
    with load.backend.serve(load.store, "--chunk-mib", "1") as (process, port):
        address = f"grpc://127.0.0.1:{port}"
        clients = [flight.FlightClient(address) for _ in range(WRITERS + READERS + 1)]
        checker = Raw(clients[-1])
        with load.lock:
            earlier = dict(load.finalized)
        for name, topics in earlier.items():  # everything acknowledged before the kills
            result = outcome(lambda n=name, t=topics: _check_sequence(checker, n, t))
            expect(result, "OK")
            if result.value is not None:
                load.mismatches.append(f"after kill -9: {result.value}")
        stop, killed_at = threading.Event(), list[float]()
        threads = [
            threading.Thread(target=_writer, args=(Raw(c), load, i, round_, stop, killed_at))
            for i, c in enumerate(clients[:WRITERS])
        ] + [
            threading.Thread(target=_reader, args=(Raw(c), load, stop, killed_at))
            for c in clients[WRITERS:-1]
        ]  # fmt: skip
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        killed_at.append(time.monotonic())
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        load.kills += 1
        stop.set()
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive(), "a client thread hung after the kill"
        for client in clients:
            client.close()


@pytest.fixture(scope="module")
def load(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Load]:
    result = Load(backend, tmp_path_factory.mktemp("load") / "store")
    for round_ in range(ROUNDS):
        _round(result, round_)
    yield result


def test_the_load_ran_and_no_call_failed_before_a_kill(load: Load) -> None:
    assert load.kills == ROUNDS
    assert len(load.finalized) >= WRITERS, "the writers finalized too little to prove anything"
    assert load.reads >= READERS
    assert load.failures == [], [f"{what}: {result}" for what, result in load.failures[:5]]
    print(f"\nload: {WRITERS} writers x {load.rows_written} rows, {READERS} readers x "
          f"{load.reads} reads, {len(load.finalized)} sequences finalized, "
          f"{load.kills} kill -9 rounds")  # fmt: skip


def test_every_finalized_sequence_reads_back_intact(load: Load) -> None:
    assert load.mismatches == [], load.mismatches[:5]
    with load.backend.serve(load.store) as (_, port):
        client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
        raw = Raw(client)
        try:
            bad = [_check_sequence(raw, name, topics) for name, topics in load.finalized.items()]
        finally:
            client.close()
    assert [b for b in bad if b is not None] == []


def test_unfinished_sessions_are_visible_and_deletable(load: Load) -> None:
    with load.backend.serve(load.store) as (process, port):
        client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
        raw = Raw(client)
        try:
            names = [i.descriptor.path[0].decode() for i in client.list_flights()]
            unfinished = [
                session["locator"]
                for name in names
                for session in json.loads(raw.info(name).app_metadata)["sessions"]
                if not session["locked"]
            ]
            # Each round's writers leave some sessions open on purpose, and the kill more.
            assert len(unfinished) >= ROUNDS
            for locator in unfinished:
                expect(outcome(lambda loc=locator: raw.action("session_delete", {"locator": loc})),
                       "OK")  # fmt: skip
            left = [
                s["locator"]
                for name in names
                for s in json.loads(raw.info(name).app_metadata)["sessions"]
                if not s["locked"]
            ]
            assert left == []
        finally:
            client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def _taken_over(load: Load) -> set[str]:
    """The loose files left once a live server had time to take over from the killed one
    (at once over a store of one process, after the lease over a shared catalog)."""
    deadline = time.monotonic() + 4 * SCALE_LEASE_S + 10
    while (left := load.backend.loose(load.store)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_no_orphan_file_is_left_in_the_store(load: Load) -> None:
    # Checked with no server running: every chunk file is one the catalog knows, tmp/ is empty.
    # Over a shared catalog a killed server's unrecorded chunk files may wait for a live
    # server to outlive its lease: they are noted as loose files, never unknown.
    backend = load.backend
    pending = backend.loose(load.store) if backend.shared else set()
    assert [path for path in backend.orphans(load.store) if path not in pending] == []
    with backend.serve(load.store) as (process, port):
        client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
        count = len(list(client.list_flights()))
        client.close()
        assert count >= len(load.finalized)
        assert _taken_over(load) == set()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert backend.orphans(load.store) == []
