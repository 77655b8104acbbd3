"""Ingest's first stage: reading a recording on its own thread, in batches per topic.

`BatchReader` iterates the recording's raw messages (in log-time order), buffers them per
topic and hands each full buffer (by count or bytes) to the decoding thread through a
bounded queue, so reading overlaps decoding and uploading while memory stays bounded: at
most `depth` batches wait in the queue, and all topics' buffers together hold at most
`buffer_bytes` (the fullest is handed on first).

A source that locates its messages chunk by chunk (`RosSource.runs`: indexed MCAP files)
is read a run of messages at a time, and its batches hold the messages where they lie
(`Packed`); any other is read message by message, into lists.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import cast

import attrs
import numpy as np

from mosaico.bridges.ros.cdr.packed import Packed
from mosaico.bridges.ros.mcap_chunks import Run
from mosaico.bridges.ros.progress import Progress
from mosaico.bridges.ros.source import RosSource, RosTopic

BUFFER_BYTES = 256 << 20


@attrs.frozen
class Batch:
    """Raw messages of one ROS topic, in log-time order; `seen` of its messages came before.

    `raws` is a list of `bytes`, or for a source read in runs the messages in place
    (`Packed`); `messages()` gives the list either way.
    """

    topic: str
    times: Sequence[int]
    raws: list[bytes] | Packed
    nbytes: int
    seen: int

    def __len__(self) -> int:
        return len(self.raws)

    def messages(self) -> list[bytes]:
        """One `bytes` per message."""
        return self.raws if isinstance(self.raws, list) else self.raws.messages()


@attrs.define
class _Buffer:
    """The messages of one topic read since its last batch: single messages or runs."""

    topic: str
    times: list[int] = attrs.Factory(list)
    raws: list[bytes] = attrs.Factory(list)
    runs: list[Run] = attrs.Factory(list)
    count: int = 0
    nbytes: int = 0
    seen: int = 0

    def take(self) -> Batch:
        """The buffered messages as one batch; the buffer is empty after."""
        if self.runs:
            # An int64 array serves every use of log times (indexing, slicing, np.asarray).
            times = cast(Sequence[int], np.concatenate([r.times for r in self.runs]))
            raws: list[bytes] | Packed = Packed.concat([r.packed for r in self.runs])
        else:
            times, raws = self.times, self.raws
        batch = Batch(self.topic, times, raws, self.nbytes, self.seen)
        self.seen += self.count
        self.times, self.raws, self.runs, self.count, self.nbytes = [], [], [], 0, 0
        return batch


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
        self._buffers: dict[str, _Buffer] = {}
        self._held = 0
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
        self._buffers = {t.name: _Buffer(t.name) for t in self._topics}
        self._held = 0  # bytes in all buffers
        runs = self._source.runs(self._topics)
        if runs is not None:
            for run in runs:
                self._add_run(run)
        else:
            for name, log_time, raw in self._source.messages(self._topics):
                buf = self._buffers[name]
                buf.times.append(log_time)
                buf.raws.append(raw)
                self._added(buf, 1, len(raw))
        for buf in self._buffers.values():
            self._hand(buf)

    def _add_run(self, run: Run) -> None:
        """Buffer `run`, split where its topic's buffer reaches a limit: batches keep the
        sizes asked for, however many messages a chunk holds."""
        buf = self._buffers[run.topic]
        while len(run):
            sizes = np.cumsum(run.packed.lengths)
            room = int(np.searchsorted(sizes, self._limits.nbytes - buf.nbytes)) + 1
            head, run = run.split(min(room, self._limits.messages - buf.count))
            buf.runs.append(head)
            self._added(buf, len(head), head.packed.nbytes)

    def _added(self, buf: _Buffer, count: int, nbytes: int) -> None:
        """Count what was added to `buf`; hand on a full buffer, or the fullest when all
        buffers together reach the bound."""
        buf.count += count
        buf.nbytes += nbytes
        self._held += nbytes
        limits = self._limits
        if buf.count >= limits.messages or buf.nbytes >= limits.nbytes:
            self._held -= self._hand(buf)
        elif self._held >= limits.buffer_bytes:
            self._held -= self._hand(max(self._buffers.values(), key=lambda b: b.nbytes))

    def _hand(self, buf: _Buffer) -> int:
        """Queue the buffered messages of `buf` as one batch and empty it; their bytes."""
        nbytes = buf.nbytes
        if buf.count:
            self._bar.update(buf.count, nbytes)
            batch = buf.take()
            if not self._dropped(buf.topic):
                self._put(batch)
        return nbytes
