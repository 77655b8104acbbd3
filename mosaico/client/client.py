"""``MosaicoClient``: the entry point, remote (``connect``) or embedded (``local``)."""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from mosaico.client.connection import Connection, compression_options
from mosaico.client.errors import WriterClosedError
from mosaico.client.handlers import SequenceHandler, TopicHandler
from mosaico.client.policies import SessionLevelErrorPolicy, SessionStatus
from mosaico.client.sequence_writer import SequenceUpdater, SequenceWriter
from mosaico.client.topic_writer import DEFAULT_QUEUE_CHUNKS, Progress
from mosaico.protocol.actions import (
    ActionName,
    SequenceTarget,
    SessionDelete,
    TopicTarget,
)
from mosaico.protocol.errors import NotFound, ProtocolError
from mosaico.protocol.info import DEFAULT_PORT, ServerInfo
from mosaico.protocol.names import (
    SessionLocator,
    TopicLocator,
    normalize_sequence_name,
    normalize_topic_path,
)
from mosaico.protocol.notifications import Notification, parse_notifications_payload
from mosaico.query import calls
from mosaico.query.builders import Builder
from mosaico.query.response import QueryResponse, QueryResponseItemTopic, TimeCluster, Window

_W = TypeVar("_W", SequenceWriter, SequenceUpdater)


class MosaicoClient:
    """A connection to a Mosaico platform server. Use as a context manager or call ``close``."""

    def __init__(self, connection: Connection, embedded: Any = None) -> None:
        self._conn = connection
        self._embedded = embedded  # an EmbeddedServer this client started and must stop
        self._writers: weakref.WeakSet[SequenceWriter | SequenceUpdater] = weakref.WeakSet()
        self.closed = False

    # -- construction --------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        host: str,
        port: int = DEFAULT_PORT,
        timeout: float = 5.0,
        enable_tls: bool = False,
        tls_cert_path: str | None = None,
        api_key: str | None = None,
        compression: str | None = None,
    ) -> MosaicoClient:
        """Connect to a server; retries ``info`` every 25 ms until ``timeout`` seconds.

        TLS is used with ``enable_tls`` or a ``tls_cert_path`` (PEM roots to trust);
        ``compression`` is ``"gzip"`` or ``"stream_gzip"`` (spec §2.5).
        """
        root_certs = Path(tls_cert_path).read_bytes() if tls_cert_path else None
        scheme = "grpc+tls" if enable_tls or root_certs else "grpc+tcp"
        return cls(
            Connection(
                f"{scheme}://{host}:{port}", timeout=timeout, tls_root_certs=root_certs,
                api_key=api_key, grpc_options=compression_options(compression),
            )
        )  # fmt: skip

    @classmethod
    def from_env(cls, host: str, port: int = DEFAULT_PORT, timeout: float = 5.0) -> MosaicoClient:
        """Like ``connect``, with TLS and API key from MOSAICO_TLS_CERT_FILE / MOSAICO_API_KEY."""
        return cls.connect(
            host, port, timeout,
            tls_cert_path=os.environ.get("MOSAICO_TLS_CERT_FILE"),
            api_key=os.environ.get("MOSAICO_API_KEY"),
        )  # fmt: skip

    @classmethod
    def local(cls, path: str | os.PathLike[str], timeout: float = 5.0) -> MosaicoClient:
        """The embedded default: start a server in-process on a loopback port over ``path``
        (created if missing); ``close`` stops it."""
        from mosaico.server import EmbeddedServer

        server = EmbeddedServer(os.fspath(path))
        host, port = server.start()
        try:
            return cls(Connection(f"grpc+tcp://{host}:{port}", timeout=timeout), embedded=server)
        except BaseException:
            server.stop()
            raise

    def close(self) -> None:
        """Close the connection (and stop an embedded server). A session still pending gets
        its error policy applied first, so its topics' uploads end cleanly."""
        if self.closed:
            return
        self.closed = True
        for writer in list(self._writers):
            if writer.status is SessionStatus.Pending:
                writer.abandon(WriterClosedError("the client was closed during the session"))
        self._conn.close()
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    def __enter__(self) -> MosaicoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> ServerInfo:
        """The server's ``info`` reply, fetched once at connection time."""
        return self._conn.info

    @property
    def location(self) -> str:
        return self._conn.location

    # -- writing -------------------------------------------------------------------------

    def sequence_create(
        self,
        sequence_name: str,
        metadata: dict[str, Any] | None = None,
        on_error: SessionLevelErrorPolicy = SessionLevelErrorPolicy.Report,
        *,
        progress: Progress | None = None,
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
    ) -> SequenceWriter:
        """A writer for a new sequence; use it as a context manager (finalizes on success)."""
        self._check_open()
        return self._track(SequenceWriter(
            self._conn, sequence_name, metadata,
            on_error=on_error, progress=progress, queue_chunks=queue_chunks,
        ))  # fmt: skip

    def sequence_update(
        self,
        sequence_name: str,
        on_error: SessionLevelErrorPolicy = SessionLevelErrorPolicy.Report,
        *,
        progress: Progress | None = None,
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
    ) -> SequenceUpdater:
        """A writer for a new session (new topics) of an existing sequence."""
        self._check_open()
        return self._track(SequenceUpdater(
            self._conn, sequence_name,
            on_error=on_error, progress=progress, queue_chunks=queue_chunks,
        ))  # fmt: skip

    def _track(self, writer: _W) -> _W:
        """Register a new writer, so ``close`` can end its session."""
        self._writers.add(writer)
        return writer

    def _check_open(self) -> None:
        if self.closed:
            raise WriterClosedError("the client is closed")

    # -- catalogue -----------------------------------------------------------------------

    def list_sequences(self) -> list[str]:
        names: list[str] = []
        for info in self._conn.list_flights():
            path = info.descriptor.path
            if path:
                names.extend(p.decode("utf-8") if isinstance(p, bytes) else p for p in path)
        return names

    def sequence_handler(self, sequence_name: str) -> SequenceHandler | None:
        """The sequence's handler, or None if it does not exist."""
        try:
            return SequenceHandler.fetch(self._conn, sequence_name)
        except NotFound:
            return None

    def sequence_exists(self, sequence_name: str) -> bool:
        try:
            return self.sequence_handler(sequence_name) is not None
        except ProtocolError:
            return False

    def topic_handler(self, sequence_name: str, topic_name: str) -> TopicHandler | None:
        """The topic's handler, or None if it does not exist."""
        try:
            return TopicHandler.fetch(self._conn, _topic(sequence_name, topic_name))
        except NotFound:
            return None

    def topic_exists(self, sequence_name: str, topic_name: str) -> bool:
        try:
            return self.topic_handler(sequence_name, topic_name) is not None
        except ProtocolError:
            return False

    def sequence_delete(self, sequence_name: str) -> None:
        """Delete a sequence with all its sessions, topics, data and notifications."""
        self._conn.action(SequenceTarget(ActionName.SEQUENCE_DELETE, sequence_name))

    def session_delete(self, locator: str | SessionLocator) -> None:
        """Delete one session (``<sequence>:<id>``) and its topics."""
        self._conn.action(SessionDelete(session=SessionLocator.parse(str(locator))))

    # -- notifications -------------------------------------------------------------------

    def list_sequence_notifications(self, sequence_name: str) -> list[Notification]:
        reply = self._conn.action(
            SequenceTarget(ActionName.SEQUENCE_NOTIFICATION_LIST, sequence_name)
        )
        return parse_notifications_payload(reply)

    def clear_sequence_notifications(self, sequence_name: str) -> None:
        self._conn.action(SequenceTarget(ActionName.SEQUENCE_NOTIFICATION_PURGE, sequence_name))

    def list_topic_notifications(self, sequence_name: str, topic_name: str) -> list[Notification]:
        reply = self._conn.action(
            TopicTarget(ActionName.TOPIC_NOTIFICATION_LIST, _topic(sequence_name, topic_name))
        )
        return parse_notifications_payload(reply)

    def clear_topic_notifications(self, sequence_name: str, topic_name: str) -> None:
        self._conn.action(
            TopicTarget(ActionName.TOPIC_NOTIFICATION_PURGE, _topic(sequence_name, topic_name))
        )

    # -- queries -------------------------------------------------------------------------

    def query(self, *builders: Builder) -> QueryResponse | None:
        """Sequences and topics matching every builder (QuerySequence, QueryTopic,
        QueryOntologyCatalog or a whole Query); chain with ``response.to_query_sequence()``."""
        self._check_open()
        return calls.query(self._conn.action, *builders)

    def clusterize(
        self,
        topic: QueryResponseItemTopic,
        clustering_dt_ns: int = 0,
        timestamp_range: Window = None,
    ) -> list[TimeCluster]:
        """Time ranges where the query's conditions on ``topic`` hold; a gap larger than
        ``clustering_dt_ns`` starts a new range (0: one range). ``timestamp_range``, a
        ``TimeWindow`` or a ``(start_ns, end_ns)`` pair, keeps the rows in [start, end)."""
        self._check_open()
        return calls.clusterize(self._conn.paged_action, topic, clustering_dt_ns, timestamp_range)

    def intersect(
        self,
        topics: Sequence[QueryResponseItemTopic],
        clustering_dt_ns: int = 0,
        intersect_dt_ns: int = 0,
    ) -> list[TimeCluster]:
        """Time ranges where the conditions of all ``topics`` hold together."""
        self._check_open()
        return calls.intersect(self._conn.paged_action, topics, clustering_dt_ns, intersect_dt_ns)


def _topic(sequence_name: str, topic_name: str) -> TopicLocator:
    return TopicLocator(normalize_sequence_name(sequence_name), normalize_topic_path(topic_name))
