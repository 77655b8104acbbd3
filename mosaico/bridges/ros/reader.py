"""Ingest's first stage: reading a recording on its own thread, in batches per topic.

`BatchReader` iterates the recording's raw messages (in log-time order), buffers them per
topic and hands each full buffer (by count or bytes) to the decoding thread through a
bounded queue, so reading overlaps decoding and uploading while memory stays bounded: at
most `depth` batches wait in the queue, and all topics' buffers together hold at most
`buffer_bytes` (the fullest is handed on first).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence

import attrs

from mosaico.bridges.ros.progress import Progress
from mosaico.bridges.ros.source import RosSource, RosTopic

BUFFER_BYTES = 256 << 20


@attrs.define
class Batch:
    """Raw messages of one ROS topic, in log-time order; `seen` of its messages came before."""

    topic: str
    times: list[int] = attrs.Factory(list)
    raws: list[bytes] = attrs.Factory(list)
    nbytes: int = 0
    seen: int = 0


class _Stopped(Exception):
    """The consumer has stopped: the reading thread ends."""


@attrs.frozen
class Limits:
    """When a topic's buffer becomes a batch: `messages` or `nbytes` reached; and the bound
    of all buffers together (`buffer_bytes`)."""

    messages: int
    nbytes: int
    buffer_bytes: int = BUFFER_BYTES


class BatchReader:
    """Reads `topics` of `source` on a background thread; iterate it for the batches.

    `dropped(topic)` is asked for every full buffer: True drops its messages (a topic that
    has failed downstream). `bar` counts every message read, from the reading thread.
    Iterating re-raises the reading thread's error; `close` stops the thread and waits for
    it (call it before closing the source).
    """

    def __init__(
        self,
        source: RosSource,
        topics: Sequence[RosTopic],
        limits: Limits,
        bar: Progress,
        dropped: Callable[[str], bool],
        depth: int = 2,
    ) -> None:
        self._source, self._topics, self._limits = source, topics, limits
        self._bar, self._dropped = bar, dropped
        self._queue: queue.Queue[Batch | BaseException | None] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ros-ingest-reader", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[Batch]:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop reading (if not done) and wait for the thread to end."""
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _put(self, item: Batch | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Stopped

    def _run(self) -> None:
        try:
            self._read()
            self._put(None)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the decoding thread
            with contextlib.suppress(_Stopped):
                self._put(exc)

    def _read(self) -> None:
        buffers = {t.name: Batch(t.name) for t in self._topics}
        limits = self._limits
        held = 0  # bytes in all buffers
        for name, log_time, raw in self._source.messages(self._topics):
            buf = buffers[name]
            buf.times.append(log_time)
            buf.raws.append(raw)
            buf.nbytes += len(raw)
            held += len(raw)
            if len(buf.raws) >= limits.messages or buf.nbytes >= limits.nbytes:
                held -= self._hand(buf)
            elif held >= limits.buffer_bytes:
                held -= self._hand(max(buffers.values(), key=lambda b: b.nbytes))
        for buf in buffers.values():
            self._hand(buf)

    def _hand(self, buf: Batch) -> int:
        """Queue the buffered messages of `buf` as one batch and empty it; their bytes."""
        nbytes = buf.nbytes
        if buf.raws:
            self._bar.update(len(buf.raws), nbytes)
            if not self._dropped(buf.topic):
                self._put(Batch(buf.topic, buf.times, buf.raws, nbytes, buf.seen))
            buf.seen += len(buf.raws)
            buf.times, buf.raws, buf.nbytes = [], [], 0
        return nbytes
