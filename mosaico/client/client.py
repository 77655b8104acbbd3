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
from mosaico.protocol.errors import NotFound, ProtocolError, Unimplemented
from mosaico.protocol.info import DEFAULT_PORT, ServerInfo
from mosaico.protocol.listing import TOTALS_CRITERIA
from mosaico.protocol.names import (
    SessionLocator,
    TopicLocator,
    normalize_sequence_name,
    normalize_topic_path,
)
from mosaico.protocol.notifications import Notification, parse_notifications_payload
from mosaico.query import calls
from mosaico.query.builders import Builder, Query
from mosaico.query.response import QueryResponse, QueryResponseItemTopic, TimeCluster, Window

_W = TypeVar("_W", SequenceWriter, SequenceUpdater)


class MosaicoClient:
    """A connection to a Mosaico platform server. Use as a context manager or call ``close``.

    ``connect`` reaches a running server; ``local`` starts one in-process over a folder.
    Writers (``sequence_create``, ``sequence_update``), read handlers (``sequence_handler``,
    ``topic_handler``) and queries (``query``, ``clusterize``, ``intersect``) share one
    Flight channel, so control calls stay responsive while uploads stream.

    >>> with MosaicoClient.connect("localhost", 6726) as client:
    ...     client.list_sequences()
    ['run-1']
    """

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

        Args:
            host: the server's host name or address.
            port: its TCP port (default 6726).
            timeout: seconds to keep trying before giving up.
            enable_tls: connect with TLS, trusting the system's roots.
            tls_cert_path: a PEM file of roots to trust; implies TLS.
            api_key: sent as the ``mosaico-api-key-token`` header on every call (spec §2.4).
            compression: ``"gzip"`` or ``"stream_gzip"`` (spec §2.5); None sends plain.

        Raises:
            Unavailable: no ``info`` reply within ``timeout`` (the server is down, the
                address is wrong, or the API key or TLS setup is refused).
            InputError: ``compression`` is not one of the names above.
            OSError: ``tls_cert_path`` cannot be read.

        >>> client = MosaicoClient.connect("robot-lab", api_key="k3y", enable_tls=True)
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
        """Like ``connect``, with TLS and API key from the environment.

        ``MOSAICO_TLS_CERT_FILE`` (a PEM file, turns TLS on) and ``MOSAICO_API_KEY`` are read
        when called; unset variables mean no TLS and no key.
        """
        return cls.connect(
            host, port, timeout,
            tls_cert_path=os.environ.get("MOSAICO_TLS_CERT_FILE"),
            api_key=os.environ.get("MOSAICO_API_KEY"),
        )  # fmt: skip

    @classmethod
    def local(
        cls, path: str | os.PathLike[str], timeout: float = 5.0, *, port: int = 0,
        create: bool = True,
    ) -> MosaicoClient:  # fmt: skip
        """The embedded default: start a server in-process on a loopback port over ``path``;
        ``close`` stops it.

        The store folder is the same one ``mosaico serve --store`` serves, so a recording
        written here can later be served remotely; while the client is open other processes
        can connect to ``location`` too.

        Args:
            path: the store folder.
            timeout: seconds to wait for the embedded server to answer.
            port: TCP port on 127.0.0.1; 0 (the default) picks a free one.
            create: make the store when ``path`` holds none (the default); False to only
                open an existing store, creating nothing.

        Raises:
            StoreNotFoundError: ``create`` is false and there is no store at ``path``.
            StoreError: ``path`` cannot be opened as a store.
            ListenError: ``port`` cannot be listened on (e.g. it is in use).
            Unavailable: the embedded server did not answer within ``timeout``.

        >>> with MosaicoClient.local("store") as client:
        ...     handler = client.sequence_handler("run-1")
        """
        from mosaico.server import EmbeddedServer

        server = EmbeddedServer(os.fspath(path), port=port, create=create)
        host, port = server.start()
        try:
            return cls(Connection(f"grpc+tcp://{host}:{port}", timeout=timeout), embedded=server)
        except BaseException:
            server.stop()
            raise

    def close(self) -> None:
        """Close the connection (and stop an embedded server); idempotent.

        A session still pending gets its error policy applied first (as if its ``with``
        block had failed with `WriterClosedError`), so its topics' uploads end cleanly.
        """
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
        """The Flight location connected to: ``grpc+tcp://host:port`` (``grpc+tls://...``)."""
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
        """A writer for a new sequence; use it as a context manager (finalizes on success).

        Nothing is sent until the ``with`` block opens (or the first ``topic_create``): then
        the sequence and its first session are created.

        Args:
            sequence_name: the new sequence's name (``[A-Za-z0-9][A-Za-z0-9_-]*``, spec §3.2).
            metadata: the sequence's user metadata, a JSON object; immutable once created.
            on_error: what happens to the session when the block fails: `Report` keeps
                what was uploaded and attaches an error notification, `Delete` removes the
                session and the new sequence.
            progress: ``progress(topic_name, rows_written, bytes_written)``, called on the
                upload threads after each batch is sent.
            queue_chunks: chunks each topic may queue for its upload thread before ``push``
                blocks (bounds memory per topic).

        Raises:
            WriterClosedError: the client is closed.

        >>> with client.sequence_create("run-1", {"site": "lab"}) as seq:
        ...     imu = seq.topic_create("sensors/imu", {}, IMU)
        ...     imu.push(Message(1_700_000_000_000_000_000, IMU(...)))
        """
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
        """A writer for a new session (new topics) of an existing sequence.

        Topics already in the sequence cannot be written again (spec §4.4); the new ones
        sit next to them. Arguments as ``sequence_create``, without metadata (a sequence's
        metadata is immutable).

        Raises:
            WriterClosedError: the client is closed.
            NotFound: when the block opens, if the sequence does not exist.

        >>> with client.sequence_update("run-1") as seq:
        ...     notes = seq.topic_create("notes", {}, String)
        ...     notes.push(Message(t, String(data="gripper replaced")))
        """
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
        """Names of every sequence on the server (one ``ListFlights`` call), server order."""
        names: list[str] = []
        for info in self._conn.list_flights():
            path = info.descriptor.path
            if path:
                names.extend(p.decode("utf-8") if isinstance(p, bytes) else p for p in path)
        return names

    def list_sequence_totals(self) -> dict[str, tuple[int, int]]:
        """Every sequence's ``(rows, size in bytes)``, by name, in server order: the totals
        its handler gives, for all sequences in one ``ListFlights`` (our extension,
        `mosaico.protocol.listing`).

        Raises:
            Unimplemented: the server does not give the totals (it ignores the extension).
            InvalidArgument: the server refuses the extension's criteria.
        """
        totals: dict[str, tuple[int, int]] = {}
        for info in self._conn.list_flights(TOTALS_CRITERIA):
            if info.total_records < 0 or info.total_bytes < 0:
                raise Unimplemented("the server does not give sequence totals in ListFlights")
            for p in info.descriptor.path or ():
                name = p.decode("utf-8") if isinstance(p, bytes) else p
                totals[name] = (info.total_records, info.total_bytes)
        return totals

    def sequence_handler(self, sequence_name: str) -> SequenceHandler | None:
        """The sequence's handler, or None if it does not exist.

        Each call fetches the catalogue entry anew; ``SequenceHandler.reload`` refreshes
        one already held.

        Raises:
            ProtocolError: any failure other than a missing sequence (e.g. `Unavailable`).
        """
        try:
            return SequenceHandler.fetch(self._conn, sequence_name)
        except NotFound:
            return None

    def sequence_exists(self, sequence_name: str) -> bool:
        """Whether the sequence exists; any protocol error (even `Unavailable`) reads as
        False."""
        try:
            return self.sequence_handler(sequence_name) is not None
        except ProtocolError:
            return False

    def topic_handler(self, sequence_name: str, topic_name: str) -> TopicHandler | None:
        """The topic's handler, or None if it does not exist.

        ``topic_name`` is the path in the sequence, with or without a leading ``/``.

        Raises:
            ProtocolError: any failure other than a missing topic (e.g. `Unavailable`).
        """
        try:
            return TopicHandler.fetch(self._conn, _topic(sequence_name, topic_name))
        except NotFound:
            return None

    def topic_exists(self, sequence_name: str, topic_name: str) -> bool:
        """Whether the topic exists; any protocol error (even `Unavailable`) reads as False."""
        try:
            return self.topic_handler(sequence_name, topic_name) is not None
        except ProtocolError:
            return False

    def sequence_delete(self, sequence_name: str) -> None:
        """Delete a sequence with all its sessions, topics, data and notifications.

        Allowed whatever the sessions' lock state; pending uploads are aborted (spec §11).

        Raises:
            NotFound: the sequence does not exist.
            PermissionDenied: the API key lacks the ``delete`` permission.
        """
        self._conn.action(SequenceTarget(ActionName.SEQUENCE_DELETE, sequence_name))

    def session_delete(self, locator: str | SessionLocator) -> None:
        """Delete one session (``<sequence>:<id>``, as ``SequenceWriter.session_locator``
        or ``SequenceHandler.sessions`` give it) with its topics, rows and notifications.

        Raises:
            InvalidArgument: ``locator`` is not a session locator.
            NotFound: the session does not exist.
            PermissionDenied: the API key lacks the ``delete`` permission.
        """
        self._conn.action(SessionDelete(session=SessionLocator.parse(str(locator))))

    # -- notifications -------------------------------------------------------------------

    def list_sequence_notifications(self, sequence_name: str) -> list[Notification]:
        """The sequence's notifications (the error reports of failed sessions), oldest
        first; its topics' notifications are listed per topic.

        Raises:
            NotFound: the sequence does not exist.
        """
        reply = self._conn.action(
            SequenceTarget(ActionName.SEQUENCE_NOTIFICATION_LIST, sequence_name)
        )
        return parse_notifications_payload(reply)

    def clear_sequence_notifications(self, sequence_name: str) -> None:
        """Delete the sequence's notifications (not those of its topics).

        Raises:
            NotFound: the sequence does not exist.
        """
        self._conn.action(SequenceTarget(ActionName.SEQUENCE_NOTIFICATION_PURGE, sequence_name))

    def list_topic_notifications(self, sequence_name: str, topic_name: str) -> list[Notification]:
        """The topic's notifications (failed uploads, dropped records, error policies),
        oldest first.

        Raises:
            NotFound: the topic does not exist.
        """
        reply = self._conn.action(
            TopicTarget(ActionName.TOPIC_NOTIFICATION_LIST, _topic(sequence_name, topic_name))
        )
        return parse_notifications_payload(reply)

    def clear_topic_notifications(self, sequence_name: str, topic_name: str) -> None:
        """Delete the topic's notifications.

        Raises:
            NotFound: the topic does not exist.
        """
        self._conn.action(
            TopicTarget(ActionName.TOPIC_NOTIFICATION_PURGE, _topic(sequence_name, topic_name))
        )

    # -- queries -------------------------------------------------------------------------

    def query(self, *builders: Builder | Query) -> QueryResponse | None:
        """Sequences and topics matching every builder (QuerySequence, QueryTopic,
        QueryOntologyCatalog or a whole Query); chain with ``response.to_query_sequence()``.

        Returns None when the server replies without payload (as the reference client does).

        Raises:
            QueryBuildError: the builders do not form a valid query.
            WriterClosedError: the client is closed.

        >>> response = client.query(
        ...     QueryTopic().with_ontology_tag(IMU),
        ...     QueryOntologyCatalog(IMU.Q.acceleration.x.gt(4.0)),
        ... )
        >>> [t.locator for item in response.items for t in item.topics]
        ['run-1/sensors/imu']
        """
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
        ``TimeWindow`` or a ``(start_ns, end_ns)`` pair, keeps the rows in [start, end).

        ``topic`` comes from a ``query`` response, which carries the conditions. Cluster
        bounds are row timestamps, both inclusive (spec §9.1).

        Raises:
            QueryBuildError: a negative ``clustering_dt_ns`` or an empty range.
            NotFound: the topic no longer exists.

        >>> topic = response.items[0].topics[0]
        >>> client.clusterize(topic, clustering_dt_ns=50_000_000)
        [TimeCluster(...), ...]
        """
        self._check_open()
        return calls.clusterize(self._conn.paged_action, topic, clustering_dt_ns, timestamp_range)

    def intersect(
        self,
        topics: Sequence[QueryResponseItemTopic],
        clustering_dt_ns: int = 0,
        intersect_dt_ns: int = 0,
    ) -> list[TimeCluster]:
        """Time ranges where the conditions of all ``topics`` hold together.

        Each topic is clusterized with ``clustering_dt_ns`` first; clusters of different
        topics count as overlapping when at most ``intersect_dt_ns`` apart, and each
        window is then widened by half that tolerance on both sides (spec §9.2).

        >>> windows = client.intersect(response.items[0].topics, intersect_dt_ns=10_000_000)
        """
        self._check_open()
        return calls.intersect(self._conn.paged_action, topics, clustering_dt_ns, intersect_dt_ns)


def _topic(sequence_name: str, topic_name: str) -> TopicLocator:
    return TopicLocator(normalize_sequence_name(sequence_name), normalize_topic_path(topic_name))
