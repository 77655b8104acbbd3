"""``TopicWriter``: buffered, background-converted, back-pressured upload of one topic.

The caller's thread only appends objects to a list. Full chunks go through a bounded queue to
one upload thread per topic, which converts them column-wise (``to_batch``) and writes them to
the topic's DoPut stream. A full queue blocks the pusher (bounded memory); an error on the
upload thread is re-raised at the next call on the writer.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.client.columns import build_batch
from mosaico.client.connection import Connection, translate
from mosaico.client.errors import UploadError, WriterClosedError
from mosaico.client.message import Message
from mosaico.client.policies import TopicLevelErrorPolicy, TopicWriterStatus
from mosaico.errors import InputError, InputTypeError
from mosaico.ontology import validation_enabled
from mosaico.protocol.actions import NotificationCreate
from mosaico.protocol.commands import UploadCommand
from mosaico.protocol.info import Limits
from mosaico.protocol.names import TopicLocator

log = logging.getLogger("mosaico.client")

Progress = Callable[[str, int, int], None]
"""``progress(topic_name, rows_written, bytes_written)``, called on the upload thread."""

MiB = 1024 * 1024
TARGET_BATCH_BYTES = 8 * MiB  # smaller than the wire limit: keeps queued memory modest
MAX_CHUNK_ROWS = 32_768  # objects held per chunk before handing it to the upload thread
DEFAULT_QUEUE_CHUNKS = 4
_STOP = object()
_INT64 = (-(2**63), 2**63)


class TopicWriter:
    """Writes one topic. Obtained from ``SequenceWriter.topic_create``; not thread-safe."""

    def __init__(
        self,
        connection: Connection,
        topic: TopicLocator,
        topic_uuid: str,
        ontology_type: type,
        *,
        limits: Limits,
        on_error: TopicLevelErrorPolicy = TopicLevelErrorPolicy.Raise,
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
        progress: Progress | None = None,
    ) -> None:
        self._conn = connection
        self.locator = topic
        self.ontology_type = ontology_type
        self.on_error = TopicLevelErrorPolicy(on_error)
        self._schema: pa.Schema = ontology_type.ARROW_SCHEMA  # type: ignore[attr-defined]
        self._limit = limits.upload_batch_limit
        self._target = min(TARGET_BATCH_BYTES, self._limit)
        self._progress = progress
        self._objs: list[Any] = []
        self._ts: list[int] = []
        self._chunk_rows = 0  # decided at the first push from a one-row conversion
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_chunks))
        self._error: BaseException | None = None
        self._discard = False
        self._stopping = False  # the upload thread was told to stop
        self._closed = False
        self.status = TopicWriterStatus.Active
        self.last_error: str | None = None
        self.rows_pushed = 0
        self.rows_written = 0
        self.bytes_written = 0
        self.dropped_record_count = 0
        command = UploadCommand(topic, topic_uuid).to_bytes()
        self._writer, _ = connection.do_put(command, self._schema)
        self._thread = threading.Thread(
            target=self._run, name=f"mosaico-upload:{topic}", daemon=True
        )
        self._thread.start()

    # -- public API ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The topic name in display form, ``/path``."""
        return self.locator.name

    @property
    def is_active(self) -> bool:
        return not self._closed

    def push(
        self,
        message: Message | None = None,
        *,
        timestamp_ns: int | None = None,
        data: Any = None,
    ) -> None:
        """Append one row: ``push(Message(ts, obj))`` or ``push(timestamp_ns=ts, data=obj)``."""
        if self._stopping or self._error is not None:
            self._check_usable()
        if message is not None:
            timestamp_ns, data = message.timestamp_ns, message.data
        cls = self.ontology_type
        if type(data) is not cls and not isinstance(data, cls):
            raise InputTypeError(
                f"topic {self.name!r} holds {cls.__name__}, cannot push {type(data).__name__}"
            )
        if type(timestamp_ns) is not int:
            timestamp_ns = _as_timestamp(timestamp_ns)
        elif not _INT64[0] <= timestamp_ns < _INT64[1]:
            raise InputError(f"timestamp_ns {timestamp_ns} does not fit in int64")
        if not self._chunk_rows:
            self._size_chunks(timestamp_ns, data)
        self._objs.append(data)
        self._ts.append(timestamp_ns)
        self.rows_pushed += 1
        if len(self._objs) >= self._chunk_rows:
            self._handoff()

    def push_batch(
        self,
        batch: pa.RecordBatch | pa.Table | pa.StructArray | Mapping[str, Any],
        *,
        timestamps_ns: Any = None,
    ) -> None:
        """Append many rows at once, straight to the wire (no per-row objects).

        ``batch`` is a RecordBatch/Table of the topic schema (``timestamp_ns`` + the type's
        fields), or a mapping of field name -> column (numpy, Arrow, list; nested structs as
        a StructArray, a nested mapping or dotted names such as ``"acceleration.x"``) with
        ``timestamps_ns`` given separately. Validated column-wise when validation is on.
        """
        self._check_usable()
        record = build_batch(self.ontology_type, batch, timestamps_ns)
        if validation_enabled():
            self.ontology_type.validate_batch(record)  # type: ignore[attr-defined]
        if record.num_rows == 0:
            return
        if self._objs:
            self._handoff()  # keep push order across push and push_batch
        self.rows_pushed += record.num_rows
        self._put(record)

    def finalize(self) -> None:
        """Send the buffered rows and close the upload; raises if any part of it failed."""
        self.close(flush=True)

    def close(self, flush: bool = True) -> None:
        """Close the upload. ``flush=False`` discards rows not yet sent (error paths)."""
        if self._closed:
            return
        self.begin_close(flush)
        self._closed = True
        self._thread.join()
        try:
            self._writer.done_writing()
            self._writer.close()
        except Exception as exc:  # noqa: BLE001 - reported below with the server's reason
            if self._error is None:
                self._error = translate(exc)
        if self._error is not None:
            self.last_error = str(self._error)
            self.status = TopicWriterStatus.FinalizedWithError
            if flush:
                raise UploadError(f"topic {self.name!r}: {self._error}") from self._error
        elif self.status is TopicWriterStatus.Active:
            self.status = TopicWriterStatus.Finalized

    def begin_close(self, flush: bool) -> None:
        """Hand the last rows to the upload thread and tell it to stop, without waiting."""
        if self._stopping:
            return
        self._stopping = True
        if flush and self._error is None and self._objs:
            self._handoff()
        self._objs, self._ts = [], []
        if not flush:
            self._discard = True
        self._queue.put(_STOP)

    def notify_error(self, message: str) -> None:
        """Attach an ``error`` notification to this topic (failures are only logged)."""
        try:
            self._conn.action(
                NotificationCreate(self.locator.sequence, self.locator, "error", message)
            )
        except Exception as exc:  # noqa: BLE001 - spec §12.3: topic notifications are best effort
            log.warning("could not notify topic %s: %s", self.locator, exc)

    def __enter__(self) -> TopicWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or self.on_error is TopicLevelErrorPolicy.Raise:
            return False
        if not isinstance(exc, Exception):
            return False  # KeyboardInterrupt and friends always propagate
        self.last_error = str(exc)
        self.notify_error(f"topic {self.name!r} failed: {exc!r}")
        if self.on_error is TopicLevelErrorPolicy.Finalize:
            self.close(flush=False)
            self.status = TopicWriterStatus.FinalizedWithError
        else:
            self.status = TopicWriterStatus.IgnoredLastError
        return True

    # -- caller side ---------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._stopping:
            raise WriterClosedError(f"topic writer {self.name!r} is closed")
        error = self._error
        if error is not None:
            self.status = TopicWriterStatus.Failed
            raise UploadError(f"topic {self.name!r}: upload failed: {error}") from error

    def _size_chunks(self, timestamp_ns: int, data: Any) -> None:
        # One synchronous one-row conversion: catches bad values early and sizes the chunks.
        one = self.ontology_type.to_batch([data], [timestamp_ns])  # type: ignore[attr-defined]
        self._set_chunk_rows(pa.ipc.get_record_batch_size(one), 1)

    def _set_chunk_rows(self, size: int, rows: int) -> None:
        self._chunk_rows = max(1, min(MAX_CHUNK_ROWS, int(self._target * rows / max(size, 1))))

    def _handoff(self) -> None:
        chunk = (self._objs, self._ts)
        self._objs, self._ts = [], []
        self._put(chunk)

    def _put(self, item: Any) -> None:
        self._queue.put(item)  # blocks while the queue is full: back-pressure

    # -- upload thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None or self._discard:
                continue  # drain, so that a blocked pusher always wakes up
            try:
                if isinstance(item, pa.RecordBatch):
                    self._send(item)
                else:
                    objs, ts = item
                    with _gc_paused():
                        batch = self.ontology_type.to_batch(objs, ts)  # type: ignore[attr-defined]
                    self._send(batch, resize=True)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = self._server_reason(exc)

    def _server_reason(self, exc: BaseException) -> BaseException:
        if not isinstance(exc, (pa.ArrowException, OSError)):
            return exc
        # A rejected DoPut shows up as a generic write error; the status says why.
        try:
            self._writer.close()
        except Exception as status:  # noqa: BLE001
            return translate(status)
        return translate(exc)

    def _send(self, batch: pa.RecordBatch, resize: bool = False) -> None:
        size = pa.ipc.get_record_batch_size(batch)
        rows = batch.num_rows
        if resize:
            self._set_chunk_rows(size, rows)
        if size > self._limit:
            if rows == 1:
                self._drop(size)
                return
            step = math.ceil(rows / math.ceil(size / self._target))
            for start in range(0, rows, step):
                self._send(batch.slice(start, step))
            return
        self._writer.write_batch(batch)
        self.rows_written += rows
        self.bytes_written += size
        if self._progress is not None:
            self._progress(self.name, self.rows_written, self.bytes_written)

    def _drop(self, size: int) -> None:
        self.dropped_record_count += 1
        self.status = TopicWriterStatus.RecordTooLarge
        self.notify_error(
            f"record dropped: its {size} bytes alone exceed the transport limit of "
            f"{self._limit} bytes (0.9 x grpc_max_decode_message_size)"
        )


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a chunk converts (shared by all upload threads).

    Conversion builds many short-lived lists; with many live objects in the process, the
    collections they trigger cost more than the conversion itself. The objects converted are
    acyclic, so deferring collection to the end of the chunk loses nothing.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _as_timestamp(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        result = int(value)
        if _INT64[0] <= result < _INT64[1]:
            return result
        raise InputError(f"timestamp_ns {result} does not fit in int64")
    raise InputTypeError(f"timestamp_ns must be an integer (ns), got {type(value).__name__}")
