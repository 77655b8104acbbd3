"""Read-ahead for DoGet: decode the next record batch while gRPC sends the current one.

Parquet decoding releases the GIL, so producing batches on a helper thread overlaps disk and
decode work with the network write on the caller's thread. The hand-over queue holds one
batch, so memory stays bounded (at most two batches wait beyond the one being sent), errors
reach the caller in stream order, and a caller that stops early stops the helper.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pyarrow as pa

_END = object()
_POLL_S = 0.05  # how often a blocked helper checks whether the caller has gone


def read_ahead(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Yield ``batches`` in order, the next one produced on a helper thread.

    An exception raised by ``batches`` is re-raised here, after the batches before it.
    Closing the returned generator (or dropping it) stops the helper thread.

    Example:
        >>> batch = pa.RecordBatch.from_pydict({"i": [1]})
        >>> [b.num_rows for b in read_ahead(iter([batch, batch]))]
        [1, 1]
    """
    ready: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not hand_over(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            hand_over(exc)
            return
        hand_over(_END)

    worker = threading.Thread(target=produce, name="doget-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
