"""DoGet read-ahead: the next batch is produced on a helper thread, bounded, in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from mosaico.server.read_ahead import read_ahead


def _batch(i: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({"i": [i]})


def test_order_and_end() -> None:
    got = [b.column(0)[0].as_py() for b in read_ahead(_batch(i) for i in range(20))]
    assert got == list(range(20))
    assert list(read_ahead(iter([]))) == []


def test_error_after_the_batches_before_it() -> None:
    def failing() -> Iterator[pa.RecordBatch]:
        yield _batch(0)
        yield _batch(1)
        raise OSError("disk gone")

    stream = read_ahead(failing())
    assert [b.column(0)[0].as_py() for b in (next(stream), next(stream))] == [0, 1]
    with pytest.raises(OSError, match="disk gone"):
        next(stream)


def test_bounded_and_stops_when_the_caller_stops() -> None:
    produced = 0

    def endless() -> Iterator[pa.RecordBatch]:
        nonlocal produced
        while True:
            produced += 1
            yield _batch(produced)

    stream = read_ahead(endless())
    next(stream)
    time.sleep(0.2)
    assert produced <= 3  # the one handed out, one queued, one waiting to be queued
    stream.close()
    helpers = [t for t in threading.enumerate() if t.name == "doget-read-ahead"]
    for thread in helpers:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert produced <= 3
