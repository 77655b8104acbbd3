"""``TopicWriter``: buffered, background-converted, back-pressured upload of one topic.

The caller's thread only appends objects to a list. Full chunks go through a bounded queue to
one upload thread per topic, which converts them column-wise (the type's codec) and writes
them to the topic's DoPut stream. A full queue blocks the pusher (bounded memory); an error on
the upload thread is re-raised at the next call on the writer.

A writer's life is one `_State` value, changed only by `_move` along the moves `_NEXT`
lists; ``is_active``, ``status`` and the checks of every call derive from it. The upload
thread never changes the state: it hands its error over in ``_error`` and counts what it
sent or dropped.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.client.columns import build_batch
from mosaico.client.connection import Connection, translate
from mosaico.client.errors import UploadError, WriterClosedError
from mosaico.client.message import Message
from mosaico.client.policies import TopicLevelErrorPolicy, TopicWriterStatus
from mosaico.errors import InputError, InputTypeError, StateError
from mosaico.ontology import validation_enabled
from mosaico.protocol.actions import NotificationCreate
from mosaico.protocol.commands import UploadCommand
from mosaico.protocol.info import Limits
from mosaico.protocol.names import TopicLocator
from mosaico.protocol.topic_type import TopicCodec, TopicType

log = logging.getLogger("mosaico.client")

Progress = Callable[[str, int, int], None]
"""``progress(topic_name, rows_written, bytes_written)``, called on the upload thread."""

MiB = 1024 * 1024
TARGET_BATCH_BYTES = 8 * MiB  # smaller than the wire limit: keeps queued memory modest
MAX_CHUNK_ROWS = 32_768  # objects held per chunk before handing it to the upload thread
DEFAULT_QUEUE_CHUNKS = 4
_STOP = object()
_INT64 = (-(2**63), 2**63)


class _State(Enum):
    """Where a topic writer is in its life."""

    OPEN = "open"  # takes rows
    BROKEN = "broken"  # the upload failed and the caller was told; only closing is left
    CLOSING = "closing"  # last rows handed off, the upload thread told to stop after them
    DISCARDING = "discarding"  # the upload thread told to stop and drop what is queued
    FINALIZED = "finalized"  # closed: every row handed off was sent
    FAILED = "failed"  # closed after an upload error or `fail`


_NEXT: dict[_State, frozenset[_State]] = {
    _State.OPEN: frozenset({_State.BROKEN, _State.CLOSING, _State.DISCARDING}),
    _State.BROKEN: frozenset({_State.DISCARDING}),
    _State.CLOSING: frozenset({_State.FINALIZED, _State.FAILED}),
    _State.DISCARDING: frozenset({_State.FINALIZED, _State.FAILED}),
    _State.FINALIZED: frozenset(),
    _State.FAILED: frozenset(),
}
_OPEN = _State.OPEN  # a module constant: push checks it on every row
_TAKES_CLOSE = frozenset({_State.OPEN, _State.BROKEN})  # close has not begun
_ENDED = frozenset({_State.FINALIZED, _State.FAILED})


class TopicWriter:
    """Writes one topic. Obtained from ``SequenceWriter.topic_create``; not thread-safe.

    ``status`` (a `TopicWriterStatus`) says how the topic fares: ``FinalizedWithError``
    once closed after a failure, ``Failed`` while a failed upload waits to be closed,
    ``IgnoredLastError`` after the ``Ignore`` policy swallowed an error, ``RecordTooLarge``
    after a record was dropped, else ``Active`` or ``Finalized``.

    Counters: ``rows_pushed`` (accepted by ``push``/``push_batch``), ``rows_written`` and
    ``bytes_written`` (sent by the upload thread), ``dropped_record_count`` (records over
    the transport limit, each reported as a topic notification); ``last_error`` is the
    reason of the last failure, None if there was none.

    >>> imu = seq.topic_create("sensors/imu", {}, IMU)
    >>> imu.push(Message(t, IMU(...)))
    >>> imu.push_batch({"acceleration.x": ax, "acceleration.y": ay, "acceleration.z": az,
    ...                 "angular_velocity": gyro_struct}, timestamps_ns=stamps)
    >>> with seq.topic_create("gps", {}, GPS, TopicLevelErrorPolicy.Finalize) as gps:
    ...     ...  # an error here closes only this topic; the session goes on
    """

    def __init__(
        self,
        connection: Connection,
        topic: TopicLocator,
        topic_uuid: str,
        topic_type: TopicType,
        *,
        limits: Limits,
        on_error: TopicLevelErrorPolicy = TopicLevelErrorPolicy.Raise,
        validate: bool = True,
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
        progress: Progress | None = None,
    ) -> None:
        self._conn = connection
        self.locator = topic
        self.topic_type = topic_type
        self.on_error = TopicLevelErrorPolicy(on_error)
        self._codec = topic_type.codec
        self._validate = validate
        self._limit = limits.upload_batch_limit
        self._target = min(TARGET_BATCH_BYTES, self._limit)
        self._progress = progress
        self._objs: list[Any] = []
        self._ts: list[int] = []
        self._chunk_rows = 0  # decided at the first push from a one-row conversion
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_chunks))
        self._state = _State.OPEN
        self._error: BaseException | None = None  # set by the upload thread only
        self.last_error: str | None = None
        self.rows_pushed = 0
        self.rows_written = 0
        self.bytes_written = 0
        self.dropped_record_count = 0
        command = UploadCommand(topic, topic_uuid).to_bytes()
        self._writer, _ = connection.do_put(command, topic_type.schema)
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
    def ontology_type(self) -> type[TopicCodec] | None:
        """The class of the objects ``push`` takes; None for an Arrow-only topic."""
        return self._codec

    @property
    def is_active(self) -> bool:
        """True until the writer is closed (finalized, failed or discarded)."""
        return self._state not in _ENDED

    @property
    def status(self) -> TopicWriterStatus:
        """How the topic fares (see the class docstring); derived from the state."""
        state = self._state
        if state is _State.FAILED:
            return TopicWriterStatus.FinalizedWithError
        if state is _State.BROKEN:
            return TopicWriterStatus.Failed
        if self.last_error is not None:
            return TopicWriterStatus.IgnoredLastError
        if self.dropped_record_count:
            return TopicWriterStatus.RecordTooLarge
        if state is _State.FINALIZED:
            return TopicWriterStatus.Finalized
        return TopicWriterStatus.Active

    def push(
        self,
        message: Message | None = None,
        *,
        timestamp_ns: int | None = None,
        data: Any = None,
    ) -> None:
        """Append one row: ``push(Message(ts, obj))`` or ``push(timestamp_ns=ts, data=obj)``.

        Values were checked when the object was built. The first push converts its row at
        once (to size the chunks), so a bad first value fails here; later rows convert on
        the upload thread, and a failure there surfaces as `UploadError` at the next call.
        Blocks while the upload queue is full.

        Raises:
            InputTypeError: ``data`` is not of the topic's class, the topic has no codec
                (Arrow-only: use ``push_batch``), or ``timestamp_ns`` is not an integer.
            InputError: ``timestamp_ns`` does not fit in int64.
            WriterClosedError / UploadError: the writer is closed, or its upload failed.
        """
        if self._state is not _OPEN or self._error is not None:
            self._check_usable()
        if message is not None:
            timestamp_ns, data = message.timestamp_ns, message.data
        if type(data) is not self._codec:
            self._check_object(data)
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
        ``timestamps_ns`` given separately. Values are checked column-wise when the topic
        type has a codec, the topic was created with ``validate=True`` and validation is on.
        Rows keep their order relative to earlier ``push`` calls.

        Raises:
            InputTypeError: ``batch`` is none of the accepted forms.
            InputError: a missing, unknown or mistyped column, or bad timestamps (see
                `build_batch`).
            ValidationError: a value breaks the type's constraints.
            WriterClosedError / UploadError: the writer is closed, or its upload failed.

        >>> imu.push_batch(
        ...     {"acceleration": {"x": ax, "y": ay, "z": az}, "angular_velocity.x": gx,
        ...      "angular_velocity.y": gy, "angular_velocity.z": gz},
        ...     timestamps_ns=stamps,
        ... )
        """
        self._check_usable()
        record = build_batch(self.topic_type, batch, timestamps_ns)
        codec = self._codec
        if codec is not None and self._validate and validation_enabled():
            codec.validate_batch(record)
        if record.num_rows == 0:
            return
        if self._objs:
            self._handoff()  # keep push order across push and push_batch
        self.rows_pushed += record.num_rows
        self._put(record)

    def finalize(self) -> None:
        """Send the buffered rows and close the upload; raises if any part of it failed.

        The session's ``finalize`` closes every topic; call this to end one topic early.

        Raises:
            UploadError: the upload failed (the server's reason is the cause).
        """
        self.close(flush=True)

    def close(self, flush: bool = True) -> None:
        """Close the upload. ``flush=False`` discards rows not yet sent (error paths).

        Waits for the upload thread and the server's status; idempotent.

        Raises:
            UploadError: with ``flush``, when the upload failed.
        """
        self._end(flush, None)

    def fail(self, reason: str, *, flush: bool = True) -> None:
        """End the topic after a failure confined to it; the session goes on.

        Attaches an ``error`` notification saying ``reason`` to the topic, then closes it
        (``flush=True`` first sends every row pushed so far), leaving the status
        ``FinalizedWithError`` and ``last_error == reason``. On a closed writer it only
        notifies.

        Raises:
            UploadError: with ``flush``, when the upload itself had failed (rows were lost).
        """
        self.notify_error(reason)
        self._end(flush, reason)

    def begin_close(self, flush: bool) -> None:
        """Hand the last rows to the upload thread and tell it to stop, without waiting.

        The session calls it on every topic before ``close``, so all uploads drain in
        parallel. ``flush=False`` (or an earlier upload error) drops what is still queued.
        """
        if self._state not in _TAKES_CLOSE:
            return
        flush = flush and self._error is None  # after an upload error nothing more is sent
        if flush and self._objs:
            self._handoff()
        self._objs, self._ts = [], []
        self._move(_State.CLOSING if flush else _State.DISCARDING)
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

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        if exc is None or self.on_error is TopicLevelErrorPolicy.Raise:
            return False
        if not isinstance(exc, Exception):
            return False  # KeyboardInterrupt and friends always propagate
        reason = f"topic {self.name!r} failed: {exc!r}"
        if self.on_error is TopicLevelErrorPolicy.Finalize:
            self.fail(reason, flush=False)
        else:  # Ignore: the topic stays open
            self.notify_error(reason)
            self.last_error = reason
        return True

    # -- state ---------------------------------------------------------------------------

    def _move(self, state: _State) -> None:
        """The one place the state changes; a move `_NEXT` does not list is a bug here."""
        if state not in _NEXT[self._state]:
            msg = f"topic writer {self.name!r}: no move from {self._state.value} to {state.value}"
            raise StateError(msg)
        self._state = state

    def _end(self, flush: bool, reason: str | None) -> None:
        """Close: stop and join the upload thread, end the DoPut, then finalize or fail."""
        if self._state in _ENDED:
            return
        self.begin_close(flush)
        self._thread.join()
        try:
            self._writer.done_writing()
            self._writer.close()
        except Exception as exc:  # noqa: BLE001 - reported below with the server's reason
            if self._error is None:
                self._error = translate(exc)
        error = self._error
        if error is None and reason is None:
            self._move(_State.FINALIZED)
            return
        self._move(_State.FAILED)
        self.last_error = reason if error is None else str(error)
        if error is not None and flush:
            raise UploadError(f"topic {self.name!r}: {error}") from error

    # -- caller side ---------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._state not in _TAKES_CLOSE:
            raise WriterClosedError(f"topic writer {self.name!r} is closed")
        error = self._error
        if error is not None:
            if self._state is _State.OPEN:
                self._move(_State.BROKEN)
            raise UploadError(f"topic {self.name!r}: upload failed: {error}") from error

    def _check_object(self, data: Any) -> None:
        codec = self._codec
        if codec is None:
            msg = (
                f"topic {self.name!r} of type {self.topic_type.tag!r} has no codec: it takes "
                "Arrow record batches, not objects\nHint: use push_batch."
            )
            raise InputTypeError(msg)
        if not isinstance(data, codec):
            msg = f"topic {self.name!r} holds {codec.__name__}, cannot push {type(data).__name__}"
            raise InputTypeError(msg)

    def _size_chunks(self, timestamp_ns: int, data: Any) -> None:
        # One synchronous one-row conversion: catches bad values early and sizes the chunks.
        assert self._codec is not None  # push checked the object
        one = self._codec.to_batch([data], [timestamp_ns])
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
            if self._error is not None or self._state is _State.DISCARDING:
                continue  # drain, so that a blocked pusher always wakes up
            try:
                if isinstance(item, pa.RecordBatch):
                    self._send(item)
                else:
                    objs, ts = item
                    assert self._codec is not None  # only objects push checked are queued
                    with _gc_paused():
                        batch = self._codec.to_batch(objs, ts)
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
