"""``SequenceWriter`` / ``SequenceUpdater``: one write session and its topics (spec §13)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from mosaico.client.connection import Connection
from mosaico.client.errors import WriterClosedError
from mosaico.client.policies import SessionLevelErrorPolicy, SessionStatus, TopicLevelErrorPolicy
from mosaico.client.topic_writer import DEFAULT_QUEUE_CHUNKS, Progress, TopicWriter
from mosaico.errors import InputTypeError
from mosaico.ontology import OntologyType
from mosaico.protocol.actions import (
    ActionName,
    NotificationCreate,
    SequenceCreate,
    SequenceTarget,
    SessionCreate,
    SessionDelete,
    SessionFinalize,
    TopicCreate,
    TopicTarget,
)
from mosaico.protocol.errors import AlreadyExists
from mosaico.protocol.names import (
    SessionLocator,
    TopicLocator,
    normalize_sequence_name,
    normalize_topic_path,
)
from mosaico.protocol.responses import SessionCreated, TopicCreated
from mosaico.protocol.topic_type import TopicType

log = logging.getLogger("mosaico.client")


class _SessionWriter:
    """Common part of both writers: a pending session, its topic writers and the policies."""

    _creates_sequence = False

    def __init__(
        self,
        connection: Connection,
        sequence_name: str,
        *,
        on_error: SessionLevelErrorPolicy = SessionLevelErrorPolicy.Report,
        progress: Progress | None = None,
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
    ) -> None:
        self._conn = connection
        self._typed_name = sequence_name  # sent as typed, like the reference (spec §3.4)
        self.sequence_name = normalize_sequence_name(sequence_name)
        self.on_error = SessionLevelErrorPolicy(on_error)
        self._progress = progress
        self._queue_chunks = queue_chunks
        self._session: SessionCreated | None = None
        self._topics: dict[str, TopicWriter] = {}
        self.status = SessionStatus.Pending

    # -- lifecycle -----------------------------------------------------------------------

    def _start(self) -> None:
        self._session = SessionCreated.from_json(self._conn.action(SessionCreate(self._typed_name)))

    def _require_open(self) -> SessionCreated:
        if self.status is not SessionStatus.Pending:
            raise WriterClosedError(
                f"session of sequence {self.sequence_name!r} is {self.status.value}; no more writes"
            )
        if self._session is None:
            self._start()
        assert self._session is not None
        return self._session

    def __enter__(self) -> _SessionWriter:
        self._require_open()
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if self.status is not SessionStatus.Pending:
            return
        if exc is None:
            self.finalize()
        else:
            self._abort(exc, in_block=True)

    def finalize(self) -> None:
        """Flush and close every topic, then finalize the session (idempotent).

        Leaving the ``with`` block without an error calls it. Topics drain in parallel;
        once finalized the session and its topics are immutable.

        Raises:
            UploadError: a topic's upload failed; the session error policy was applied.
            ProtocolError: ``session_finalize`` failed; the policy was applied.
        """
        if self.status is not SessionStatus.Pending:
            return
        session = self._require_open()
        try:
            self._close_topics()
        except Exception as exc:
            self._abort(exc, in_block=False)
            raise
        try:
            self._conn.action(SessionFinalize(session.uuid))
        except Exception as exc:
            # Report sends nothing more after a failed finalize; Delete still deletes (§13.3).
            self._abort(exc, in_block=False, finalize_failed=True)
            raise
        self.status = SessionStatus.Finalized

    def abandon(self, reason: Exception) -> None:
        """End a pending session without finalizing it normally: apply the error policy.

        ``reason`` is what the `Report` notification names. ``MosaicoClient.close`` calls
        it for writers still pending; nothing happens on a session already over.
        """
        if self.status is SessionStatus.Pending:
            self._abort(reason, in_block=False)

    def _close_topics(self) -> None:
        writers = list(self._topics.values())
        for writer in writers:  # all uploads drain in parallel, then each is awaited
            writer.begin_close(flush=True)
        first: Exception | None = None
        for writer in writers:
            try:
                writer.close(flush=True)
            except Exception as exc:  # noqa: BLE001 - every topic gets closed; first error wins
                first = first or exc
        if first is not None:
            raise first

    def _abort(self, error: BaseException, in_block: bool, finalize_failed: bool = False) -> None:
        """Apply the session policy (spec §13.3); ``error`` is then re-raised by the caller."""
        session = self._session
        self.status = SessionStatus.Failed
        if session is None:
            return
        cleanup: list[BaseException] = []
        for writer in self._topics.values():
            if writer.is_active:
                writer.fail(f"session {session.locator} failed: {error!r}", flush=False)
        try:
            if self.on_error is SessionLevelErrorPolicy.Report:
                if finalize_failed:
                    return
                self._conn.action(
                    NotificationCreate(
                        self._typed_name, None, "error",
                        f"session {session.locator} failed: {error!r}",
                    )
                )  # fmt: skip
                self._conn.action(SessionFinalize(session.uuid))
            else:
                self._conn.action(SessionDelete(session=session.locator))
                if in_block and self._creates_sequence:
                    self._conn.action(SequenceTarget(ActionName.SEQUENCE_DELETE, self._typed_name))
                self.status = SessionStatus.Deleted
        except Exception as exc:  # noqa: BLE001 - chained to the original error
            cleanup.append(exc)
        for failure in cleanup:
            log.warning("cleanup after failed session %s: %s", session.locator, failure)
            if hasattr(error, "add_note"):
                error.add_note(f"cleanup also failed: {failure}")

    # -- topics --------------------------------------------------------------------------

    def topic_create(
        self,
        topic_name: str,
        metadata: dict[str, Any] | None,
        ontology_type: type | TopicType,
        on_error: TopicLevelErrorPolicy = TopicLevelErrorPolicy.Raise,
        *,
        validate: bool = True,
    ) -> TopicWriter:
        """Create a topic in this session and open its upload.

        Args:
            topic_name: the topic path in the sequence (``"sensors/imu"``).
            metadata: the topic's user metadata.
            ontology_type: a generated ontology class (``IMU``; ``push`` takes its objects)
                or a `TopicType`, e.g. one without codec for a topic written with
                ``push_batch`` only.
            on_error: what the writer does when its ``with`` block fails.
            validate: False stores the batches of ``push_batch`` without the type's value
                checks (their schema is still enforced): for recorded data that breaks the
                ontology's rules but must be kept as it is.

        Raises:
            InputTypeError: ``ontology_type`` is neither an ontology class nor a TopicType.
            AlreadyExists: the topic exists already.
            WriterClosedError: the session is over.
        """
        session = self._require_open()
        path = normalize_topic_path(topic_name)
        if path in self._topics:
            raise AlreadyExists(f"topic '/{path}' already created by this writer")
        topic_type = _as_topic_type(ontology_type)
        topic = TopicLocator(self.sequence_name, path)
        created = TopicCreated.from_json(
            self._conn.action(
                TopicCreate(
                    session.uuid, topic, topic_type.serialization_format, topic_type.tag,
                    dict(metadata or {}),
                )
            )
        )  # fmt: skip
        try:
            writer = TopicWriter(
                self._conn, topic, created.uuid, topic_type,
                limits=self._conn.info.limits, on_error=on_error, validate=validate,
                queue_chunks=self._queue_chunks, progress=self._progress,
            )  # fmt: skip
        except Exception:
            # The upload could not be opened: remove the topic again (spec §6.5).
            with contextlib.suppress(Exception):
                self._conn.action(TopicTarget(ActionName.TOPIC_DELETE, topic))
            raise
        self._topics[path] = writer
        return writer

    def get_topic_writer(self, topic_name: str) -> TopicWriter | None:
        """The writer this session created for ``topic_name``, or None."""
        return self._topics.get(normalize_topic_path(topic_name))

    def topic_writer_exists(self, topic_name: str) -> bool:
        """Whether this session created a writer for ``topic_name`` (open or closed)."""
        return self.get_topic_writer(topic_name) is not None

    def list_topic_writers(self) -> list[str]:
        """Names (``/path``) of the topics this session created, in creation order."""
        return [w.name for w in self._topics.values()]

    @property
    def session_locator(self) -> SessionLocator | None:
        """``<sequence>:<id>`` of the session; None until the session is started."""
        return None if self._session is None else self._session.locator

    @property
    def session_status(self) -> SessionStatus:
        """The session's state; the same as ``status``."""
        return self.status

    @property
    def rows_written(self) -> int:
        """Rows sent to the server so far, over all topics (rows still queued not counted)."""
        return sum(w.rows_written for w in self._topics.values())

    @property
    def bytes_written(self) -> int:
        """Arrow IPC bytes sent so far, over all topics."""
        return sum(w.bytes_written for w in self._topics.values())


class SequenceWriter(_SessionWriter):
    """Creates a new sequence and writes its first session.

    Obtained from ``MosaicoClient.sequence_create``. The sequence and the session are
    created when the ``with`` block opens; leaving it finalizes the session, or applies
    ``on_error`` if the block raised (`Delete` then removes the new sequence too).
    ``status`` is a `SessionStatus`.

    >>> with client.sequence_create("run-1", {"vehicle": "car-7"}) as seq:
    ...     imu = seq.topic_create("sensors/imu", {"rate_hz": 200}, IMU)
    ...     for t, sample in samples:
    ...         imu.push(Message(t, sample))
    >>> seq.status
    <SessionStatus.Finalized: 'finalized'>
    """

    _creates_sequence = True

    def __init__(
        self,
        connection: Connection,
        sequence_name: str,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(connection, sequence_name, **kwargs)
        self.metadata = dict(metadata or {})

    def _start(self) -> None:
        self._conn.action(SequenceCreate(self._typed_name, self.metadata))
        super()._start()

    def __enter__(self) -> SequenceWriter:
        self._require_open()
        return self


class SequenceUpdater(_SessionWriter):
    """Adds a new session (with new topics) to an existing sequence.

    Obtained from ``MosaicoClient.sequence_update`` or ``SequenceHandler.update``; used
    like `SequenceWriter`. Its `Delete` policy removes only the new session.

    Raises:
        NotFound: when the session starts, if the sequence does not exist.
    """

    def __enter__(self) -> SequenceUpdater:
        self._require_open()
        return self


def _as_topic_type(value: object) -> TopicType:
    """The topic type ``topic_create`` was given: a TopicType or a generated class's own."""
    if isinstance(value, TopicType):
        return value
    if isinstance(value, type) and issubclass(value, OntologyType):
        return value.topic_type()
    msg = (
        f"{value!r} is not an ontology type (a generated class such as IMU) or a TopicType\n"
        "Hint: describe an Arrow-only topic with mosaico.protocol.TopicType(tag, schema)."
    )
    raise InputTypeError(msg)
