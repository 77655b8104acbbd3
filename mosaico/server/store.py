"""The platform's domain operations over the catalog and the chunk files.

Protocol-agnostic apart from the shared request/response types: the Flight layer decodes,
calls one method here, and encodes. Every failure is a ``ProtocolError``. The pieces each
operation uses live in modules of their own: ``catalog`` (the records), ``storage`` (chunk
files), ``upload`` (one DoPut and its preconditions), ``reader`` (sorted reads), ``sizing``
(rows per message), ``read_ahead`` (decode while sending), ``ulid`` (session identifiers).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import attrs
import pyarrow as pa
import pyarrow.fs as pafs

from mosaico.errors import MosaicoError
from mosaico.protocol import actions as act
from mosaico.protocol.appmeta import (
    DataInfo,
    Interval,
    SequenceMetadata,
    SessionMetadata,
    TimeWindowInfo,
    TopicMetadata,
)
from mosaico.protocol.commands import (
    Fields,
    ResourceCommand,
    Ticket,
    TimeWindow,
    UploadCommand,
)
from mosaico.protocol.errors import InvalidArgument, NotFound, Unavailable
from mosaico.protocol.info import Limits, ServerInfo
from mosaico.protocol.jsonbody import dump_object
from mosaico.protocol.names import SessionLocator, TopicLocator
from mosaico.protocol.notifications import Notification, format_created_datetime
from mosaico.protocol.projection import project
from mosaico.protocol.responses import SessionCreated, TopicCreated
from mosaico.server.catalog import Catalog, ChunkRow, TopicRow, TopicTotals
from mosaico.server.catalog_db import is_postgres
from mosaico.server.disk_space import OutOfSpace, disk_full_reason
from mosaico.server.durability import Durability, durability_for
from mosaico.server.folder_lock import FolderLock, StoreBusyError
from mosaico.server.logs import kv
from mosaico.server.read_ahead import read_ahead
from mosaico.server.reader import read_sorted, window_counts
from mosaico.server.sizing import column_share, read_sizes
from mosaico.server.storage import ChunkStore
from mosaico.server.ulid import new_ulid
from mosaico.server.upload import TopicUpload, claim_topic

log = logging.getLogger("mosaico.server.store")

MiB = 1024 * 1024
CATALOG_FILE = "catalog.sqlite3"


class StoreError(MosaicoError):
    """The store folder cannot be used (missing, not a folder, not writable)."""


class StoreNotFoundError(StoreError, FileNotFoundError):
    """Opening without ``create``: there is no store at that place (no folder, or a folder
    without a catalog). Nothing was created."""


@attrs.frozen
class StoreConfig:
    """How a store serves and writes: message limits, chunk and row-group sizes, codec,
    durability."""

    limits: Limits = Limits()
    # Roll a new chunk file once this much is buffered. Small enough that chunks of a large
    # upload are encoded while the next ones arrive, and that query pruning is selective.
    chunk_bytes: int = 16 * MiB
    row_group_bytes: int = 8 * MiB  # Parquet row groups: the unit a read loads at once
    # Parquet codec of non-image topics (lz4, zstd, snappy, none). lz4 writes sensor data
    # faster than none (constant fields shrink: less to write and fsync; bench_ros, IMU) and
    # reads it as fast; on incompressible columns it costs next to nothing.
    compression: str = "lz4"
    # Acknowledged writes (chunks, catalog commits, hence finalize) are on stable storage
    # before the reply: fsync of chunk files and their folders, catalog synchronous=FULL.
    # False trades that for speed on scratch stores: a process crash still loses nothing
    # acknowledged, a power loss or OS crash may.
    durable: bool = True
    # Several servers over one catalog: each renews its heartbeat every quarter of this;
    # a server silent for longer is dead, and the others take over its uploads (marked
    # failed) and loose files (deleted). Larger than any pause a live server may have.
    server_lease_s: float = 30.0


@attrs.frozen
class TopicView:
    """What GetFlightInfo tells of one topic: its endpoint metadata, schema and ticket."""

    metadata: TopicMetadata
    schema: pa.Schema
    ticket: Ticket


@attrs.frozen
class SequenceView:
    """What GetFlightInfo tells of a sequence: its metadata and one view per topic."""

    metadata: SequenceMetadata
    topics: list[TopicView]


def _folder(folder: str, create: bool) -> str:
    """``folder`` as an absolute path, checked to be a writable folder (made if missing and
    ``create``)."""
    folder = os.path.abspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise StoreError(f"store {folder!r} is not a folder")
    if not create and not os.path.isdir(folder):
        raise StoreNotFoundError(f"no store at {folder!r}: the folder does not exist")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"store {folder!r} cannot be created: {exc}") from exc
    if not os.access(folder, os.W_OK):
        raise StoreError(f"store {folder!r} is not writable")
    return folder


def is_object_store(store: str) -> bool:
    """Whether a store location is an object store URL rather than a local folder."""
    return store.startswith("s3://")


def _chunk_location(
    store: str, endpoint: str | None, region: str | None, create: bool
) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root of a store's chunk files."""
    if not is_object_store(store):
        return pafs.LocalFileSystem(), _folder(store, create)
    from mosaico.server.object_store import open_filesystem

    location = open_filesystem(store, endpoint=endpoint, region=region)
    return location.fs, location.root


def _interval(lo: int | None, hi: int | None) -> Interval | None:
    return None if lo is None or hi is None else Interval(lo, hi)


def _data_info(totals: TopicTotals) -> DataInfo:
    return DataInfo(
        total_bytes=totals.file_bytes,
        total_chunks_count=totals.chunk_count,
        total_row_count=totals.row_count,
        interval=_interval(totals.min_ts, totals.max_ts),
    )


class Store:
    """A store folder (or any ``pyarrow.fs`` root) plus its catalog.

    Opening a store recovers from the previous run: uploads that were in progress are marked
    failed (with an ``error`` notification on their topic) and files the catalog does not
    know are swept. Construction raises ``StoreError`` when the root or the catalog cannot
    be used. With ``create`` false an existing store is required: a missing catalog raises
    ``StoreNotFoundError`` before anything is written under ``root``.

    Chunk files are made durable by ``durability``, by default the policy of ``fs`` (fsync
    on a local filesystem, see `durability`) when ``config.durable``; the catalog commits
    with ``synchronous=FULL`` then. A chunk is durable before the catalog records it, so a
    reply that follows a commit (a DoPut's end, ``session_finalize``) follows its data.

    Example:
        >>> import tempfile
        >>> store = Store.open_local(tempfile.mkdtemp())
        >>> store.sequence_names()
        []
        >>> store.close()
    """

    def __init__(
        self, fs: pafs.FileSystem, root: str, catalog_path: str,
        config: StoreConfig | None = None, *, create: bool = True,
        lock_folder: str | None = None, durability: Durability | None = None,
    ) -> None:  # fmt: skip
        self.config = config or StoreConfig()
        self._lock: FolderLock | None = None
        durability = durability or durability_for(fs, self.config.durable)
        self.chunks = ChunkStore(fs, root, durability)
        try:
            self.catalog = Catalog(catalog_path, create=create, durable=self.config.durable)
        except FileNotFoundError as exc:
            reason = (
                str(exc) if is_postgres(catalog_path)
                else f"the folder holds no mosaico catalog ({CATALOG_FILE})"
            )  # fmt: skip
            raise StoreNotFoundError(f"no store at {root!r}: {reason}") from None
        except Exception as exc:
            raise StoreError(f"catalog {catalog_path!r} cannot be opened: {exc}") from exc
        try:
            # Before recovery, which would break a live writer's uploads (folder_lock).
            self._lock = FolderLock(lock_folder) if lock_folder else None
        except StoreBusyError:
            self.catalog.close()
            raise
        try:
            self.chunks.prepare()
        except OSError as exc:
            self.catalog.close()
            self._release_lock()
            raise StoreError(
                f"store {root!r} is not usable: {disk_full_reason(exc) or exc}"
            ) from exc
        # Parquet encoding releases the GIL: a small pool uses every core across uploads.
        self._writer = ThreadPoolExecutor(
            max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="chunk-writer"
        )
        self._uploads: dict[str, threading.Event] = {}
        self._uploads_lock = threading.Lock()
        self.closing = threading.Event()
        self.server_id = str(uuid.uuid4())
        self._heartbeat: threading.Thread | None = None
        try:
            self.catalog.heartbeat(self.server_id, root)
            self._recover()
        except (OutOfSpace, Unavailable) as exc:
            self.close()
            raise StoreError(f"store {root!r} cannot recover from its last run: {exc}") from exc
        if self.catalog.shared:
            self._heartbeat = threading.Thread(
                target=self._keep_alive, args=(root,), name="catalog-heartbeat", daemon=True
            )
            self._heartbeat.start()

    @classmethod
    def open_local(
        cls, folder: str, config: StoreConfig | None = None, *, create: bool = True
    ) -> Store:
        """Open the store in a local folder; the catalog is ``catalog.sqlite3`` inside it.

        With ``create`` (writers: ``serve``, ingest) a missing folder and catalog are made.
        Without it (readers) the store must exist: nothing is created, not even in an
        existing folder that holds no catalog.

        The folder stays locked to this process until `close` (see `folder_lock`).

        Raises:
            StoreNotFoundError: ``create`` is false and there is no store at ``folder``.
            StoreBusyError: another process has the store open.
            StoreError: ``folder`` is not a folder, cannot be created or is not writable.
        """
        folder = _folder(folder, create)
        catalog = os.path.join(folder, CATALOG_FILE)
        return cls(
            pafs.LocalFileSystem(), folder, catalog, config, create=create, lock_folder=folder
        )

    @classmethod
    def open(
        cls, store: str, catalog: str | None = None, config: StoreConfig | None = None, *,
        create: bool = True, endpoint: str | None = None, region: str | None = None,
    ) -> Store:  # fmt: skip
        """Open a store anywhere: ``store`` is a local folder or an object store URL
        (``s3://BUCKET/PREFIX``), ``catalog`` a PostgreSQL URI or an SQLite file path.

        Without ``catalog`` the store is a local folder with its catalog inside
        (``open_local``: the embedded default). A PostgreSQL catalog may be shared by
        several servers over the same chunk storage; an SQLite one belongs to one process
        (its folder is locked). ``endpoint`` and ``region`` override the object store's
        ``AWS_ENDPOINT_URL`` and ``AWS_REGION``.

        Raises:
            StoreNotFoundError: ``create`` is false and there is no store there.
            StoreBusyError: another process has the SQLite catalog open.
            StoreLocationError: ``store`` is not a location mosaico can use (an unknown
                scheme, a bucket that does not exist).
            StoreError: the store or the catalog cannot be used.
        """
        if catalog is None:
            if is_object_store(store):
                raise StoreError(
                    f"store {store!r} is an object store: give it a catalog too (--catalog, "
                    "a postgresql:// URI or an SQLite file path)"
                )
            return cls.open_local(store, config, create=create)
        fs, root = _chunk_location(store, endpoint, region, create)
        lock_folder = None
        if not is_postgres(catalog):
            catalog = os.path.abspath(catalog)
            lock_folder = _folder(os.path.dirname(catalog), create=True)
        return cls(fs, root, catalog, config, create=create, lock_folder=lock_folder)

    def close(self) -> None:
        """Stop serving: streaming reads end with ``Unavailable``, chunks being written land,
        the server leaves the catalog's list of live servers, then the catalog closes."""
        self.closing.set()
        self._writer.shutdown(wait=True)
        if self._heartbeat is not None:
            self._heartbeat.join()
        with contextlib.suppress(Unavailable, OutOfSpace):
            self.catalog.retire(self.server_id)
        self.catalog.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def _recover(self) -> None:
        """Take over what dead servers left (see ``Catalog.recover``). A store only this
        process can open (an SQLite catalog) has no other live server; over a shared
        catalog a server is dead once its heartbeat is older than the lease."""
        lease_ns = int(self.config.server_lease_s * 1e9)
        live_since = time.time_ns() - lease_ns if self.catalog.shared else None
        note = "upload interrupted by a server restart or stop; rows committed before it are kept"
        recovery = self.catalog.recover(self.server_id, live_since, note)
        for topic in recovery.failed_uploads:
            log.warning(kv("recover.upload_interrupted", topic=topic.locator))
        if recovery.loose_files:
            self.chunks.discard_loose(recovery.loose_files)
            self.catalog.forget_loose(recovery.loose_files)
            log.info(kv("recover.loose_files", files=len(recovery.loose_files)))
        if not self.catalog.shared:
            self.chunks.sweep_tmp()  # temporary files of this store's last run

    def _keep_alive(self, address: str) -> None:
        """Renew this server's heartbeat and recover from dead servers until closing."""
        period = self.config.server_lease_s / 4
        while not self.closing.wait(period):
            try:
                self.catalog.heartbeat(self.server_id, address)
                self._recover()
            except (Unavailable, OutOfSpace) as exc:  # the catalog is away: try again later
                log.warning(kv("heartbeat.failed", error=exc))

    def info(self) -> ServerInfo:
        """The ``info`` reply (spec §5.4.1): protocol version and configured message limits."""
        return ServerInfo(limits=self.config.limits)

    def _check_size(self, encoded: bytes, what: str) -> None:
        """Refuse user metadata or a message above the advertised ``max_metadata_bytes``."""
        limit = self.config.limits.max_metadata_bytes
        if len(encoded) > limit:
            raise InvalidArgument(f"{what} is {len(encoded)} bytes, more than the {limit} limit")

    # -- control plane -------------------------------------------------------------------

    def create_sequence(self, req: act.SequenceCreate) -> None:
        """``sequence_create``: a new sequence, without sessions yet.

        Raises:
            AlreadyExists: the name is taken.
        """
        self._check_size(
            dump_object(req.user_metadata), f"user_metadata of sequence {req.sequence!r}"
        )
        self.catalog.create_sequence(req.sequence, req.user_metadata)
        log.info(kv("sequence.create", sequence=req.sequence))

    def create_session(self, req: act.SessionCreate) -> SessionCreated:
        """``session_create``: a pending session with a new ULID identifier; returns its UUID
        and its locator.

        Raises:
            NotFound: no such sequence.
        """
        session = self.catalog.create_session(req.sequence, new_ulid())
        log.info(kv("session.create", session=session.locator))
        return SessionCreated(session.id, SessionLocator(session.sequence, session.ident))

    def create_topic(self, req: act.TopicCreate) -> TopicCreated:
        """``topic_create`` in a pending session; returns the topic UUID, the key its one
        DoPut must present.

        Raises:
            NotFound: no such session.
            FailedPrecondition: the session is finalized.
            InvalidArgument: the topic is not in the session's sequence.
            AlreadyExists: the sequence already has a topic at that path.
        """
        self._check_size(dump_object(req.user_metadata), f"user_metadata of topic '{req.topic}'")
        topic = self.catalog.create_topic(
            req.session_uuid, req.topic.sequence, req.topic.path, req.ontology_tag,
            req.serialization_format, req.user_metadata,
        )  # fmt: skip
        log.info(kv("topic.create", topic=topic.locator, tag=topic.ontology_tag))
        return TopicCreated(topic.id)

    def finalize_session(self, req: act.SessionFinalize) -> None:
        """``session_finalize``: lock the session and its topics (spec §5.4.5).

        Raises:
            NotFound: no such session.
            FailedPrecondition: already finalized, or an upload of the session is streaming.
        """
        session = self.catalog.finalize_session(req.session_uuid)
        log.info(kv("session.finalize", session=session.locator))

    def _cancel_uploads(self, topic_ids: list[str]) -> None:
        with self._uploads_lock:
            for topic_id in topic_ids:
                if topic_id in self._uploads:
                    self._uploads[topic_id].set()

    def _drop_files(self, topic_ids: list[str], paths: list[str]) -> None:
        # The catalog noted these files as loose ones of this server: a crash before they
        # are forgotten leaves them to recovery.
        self._cancel_uploads(topic_ids)
        self.chunks.delete_chunks(paths)
        self.chunks.delete_topic_dirs(topic_ids)
        self.catalog.forget_loose(paths)

    def delete_session(self, req: act.SessionDelete) -> None:
        """``session_delete`` by locator or by UUID: the session, its topics, their chunk
        files and notifications, pending or finalized; its open uploads are cancelled.

        Raises:
            NotFound: no such session.
        """
        if req.session is not None:
            session, topic_ids, paths = self.catalog.delete_session(
                self.server_id, sequence=req.session.sequence, ident=req.session.session_id
            )
        else:
            session, topic_ids, paths = self.catalog.delete_session(
                self.server_id, uuid_=req.session_uuid
            )
        self._drop_files(topic_ids, paths)
        log.info(kv("session.delete", session=session.locator, chunks=len(paths)))

    def delete_sequence(self, sequence: str) -> None:
        """``sequence_delete``: the sequence with all its sessions, topics, chunk files and
        notifications, whatever their state; open uploads are cancelled.

        Raises:
            NotFound: no such sequence.
        """
        topic_ids, paths = self.catalog.delete_sequence(sequence, self.server_id)
        self._drop_files(topic_ids, paths)
        log.info(kv("sequence.delete", sequence=sequence, chunks=len(paths)))

    def delete_topic(self, topic: TopicLocator) -> None:
        """``topic_delete``: one topic with its chunk files and notifications, also in a
        finalized session; its upload, if open, is cancelled.

        Raises:
            NotFound: no such topic.
        """
        row, paths = self.catalog.delete_topic(topic.sequence, topic.path, self.server_id)
        self._drop_files([row.id], paths)
        log.info(kv("topic.delete", topic=row.locator, chunks=len(paths)))

    def add_notification(self, req: act.NotificationCreate) -> None:
        """``*_notification_create``: store the notification on its sequence or topic.

        Raises:
            NotFound: no such sequence or topic.
        """
        self._check_size(req.msg.encode(), "notification 'msg'")
        path = None if req.topic is None else req.topic.path
        self.catalog.add_notification(req.sequence, path, req.notification_type, req.msg)

    def list_notifications(self, sequence: str, topic_path: str | None) -> list[Notification]:
        """``*_notification_list``: the notifications of a sequence (``topic_path`` None) or
        of one of its topics, oldest first, each named by its resource's locator.

        Raises:
            NotFound: no such sequence or topic.
        """
        return [
            Notification(
                sequence if row.topic_path is None else f"{sequence}/{row.topic_path}",
                row.notification_type,
                row.msg,
                format_created_datetime(row.created_at_ns),
            )
            for row in self.catalog.list_notifications(sequence, topic_path)
        ]

    def purge_notifications(self, sequence: str, topic_path: str | None) -> None:
        """``*_notification_purge``: delete the notifications of one resource, not those of
        its topics.

        Raises:
            NotFound: no such sequence or topic.
        """
        self.catalog.purge_notifications(sequence, topic_path)

    def sequence_names(self) -> list[str]:
        """Every sequence name, in creation order (what ``ListFlights`` lists)."""
        return [row.name for row in self.catalog.list_sequences()]

    def sequence_totals(self) -> dict[str, tuple[int, int]]:
        """Sequence name -> (rows, stored bytes) over its topics' chunks, as its
        ``GetFlightInfo`` sums them; sequences without data are absent."""
        return self.catalog.sequence_totals()

    # -- catalogue -----------------------------------------------------------------------

    def _topic_view(
        self, topic: TopicRow, totals: TopicTotals, window: TimeWindow, fields: Fields | None
    ) -> TopicView:
        locator = TopicLocator(topic.sequence, topic.path)
        schema = topic.schema()
        if fields is not None:  # checked now, so that a bad path is refused before DoGet
            schema = project(schema, fields, str(locator)).schema
        window_info = None
        if window.bounded:
            count, lo, hi = window_counts(self.chunks, self.catalog.chunks_of(topic.id), window)
            window_info = TimeWindowInfo(count, _interval(lo, hi))
        metadata = TopicMetadata(
            topic=locator,
            created_at_ns=topic.created_at_ns,
            completed_at_ns=topic.completed_at_ns,
            locked=topic.locked,
            ontology_tag=topic.ontology_tag,
            serialization_format=topic.serialization_format,
            user_metadata=self.catalog.topic_metadata(topic.id),
            data_info=_data_info(totals),
            window=window_info,
        )
        return TopicView(metadata, schema, Ticket(locator, window, fields))

    def describe_sequence(self, cmd: ResourceCommand) -> SequenceView:
        """``GetFlightInfo`` on a sequence (spec §7.2): its metadata with its sessions, and
        one view per topic in session, then topic, creation order. With a bounded window
        each view also tells the rows inside it (spec §7.7), reading the timestamp column of
        the chunks the window cuts. With ``cmd.fields`` each projected topic's ticket
        carries its fields (see ``ResourceCommand``).

        Raises:
            NotFound: no such sequence.
            InvalidArgument: ``cmd.fields`` names a topic the sequence lacks, or a field
                a topic lacks.
        """
        seq = self.catalog.get_sequence(cmd.sequence)
        sessions = self.catalog.sessions_of(seq.id)
        topics = self.catalog.topics_of(seq.id)
        totals = self.catalog.totals([t.id for t in topics])
        metadata = SequenceMetadata(
            sequence=seq.name,
            created_at_ns=seq.created_at_ns,
            user_metadata=self.catalog.sequence_metadata(seq.id),
            sessions=[
                SessionMetadata(
                    locator=s.locator,
                    created_at_ns=s.created_at_ns,
                    completed_at_ns=s.completed_at_ns,
                    locked=s.locked,
                    topics=[t.locator for t in topics if t.session_id == s.id],
                )
                for s in sessions
            ],
        )
        if cmd.fields is not None and not isinstance(cmd.fields, tuple):
            unknown = sorted(set(cmd.fields) - {t.path for t in topics})
            if unknown:
                raise InvalidArgument(
                    f"'fields' of sequence {seq.name!r} names no topic of it: '{unknown[0]}'"
                )
        views = [
            self._topic_view(t, totals.get(t.id, TopicTotals()), cmd.window, cmd.fields_of(t.path))
            for t in topics
        ]
        return SequenceView(metadata, views)

    def describe_topic(
        self, topic: TopicLocator, window: TimeWindow, fields: Fields | None = None
    ) -> TopicView:
        """``GetFlightInfo`` on one topic (spec §7.4), its view as in ``describe_sequence``;
        with ``fields``, the schema is the projected one and the ticket carries them.

        Raises:
            NotFound: no such topic.
            InvalidArgument: a field the topic lacks.
        """
        row = self.catalog.get_topic(topic.sequence, topic.path)
        totals = self.catalog.totals([row.id]).get(row.id, TopicTotals())
        return self._topic_view(row, totals, window, fields)

    def topic_schema(self, topic: TopicLocator) -> pa.Schema:
        """The stored upload schema of a topic; empty before its upload has started.

        Raises:
            NotFound: no such topic.
        """
        return self.catalog.get_topic(topic.sequence, topic.path).schema()

    # -- data plane ----------------------------------------------------------------------

    def read(self, ticket: Ticket) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Schema and batches of a ticket; batches sized near the target message size. A
        projected ticket (``fields``) reads only those Parquet columns and ``timestamp_ns``.

        Raises:
            NotFound: no such topic.
            InvalidArgument: the ticket names a field the topic lacks.
        """
        row = self.catalog.get_topic(ticket.topic.sequence, ticket.topic.path)
        schema = row.schema()
        columns = None
        if ticket.fields is not None:
            projection = project(schema, ticket.fields, str(ticket.topic))
            schema, columns = projection.schema, projection.columns
        chunks = self.catalog.chunks_of(row.id)
        deleted = NotFound(f"topic '{ticket.topic}' was deleted while being read")
        if not self.catalog.has_topic(row.id):  # between the two reads above
            raise deleted
        share = 1.0 if columns is None else self._column_share(chunks, columns)
        sizes = read_sizes(chunks, self.config.limits, self.config.row_group_bytes, share)

        def batches() -> Iterator[pa.RecordBatch]:
            sorted_batches = read_sorted(
                self.chunks, chunks, schema, ticket.window, sizes.batch_rows, sizes.read_rows,
                columns,
            )  # fmt: skip
            try:
                for batch in read_ahead(sorted_batches):
                    if self.closing.is_set():
                        raise Unavailable("the server is shutting down")
                    yield batch
            except FileNotFoundError:
                if self.catalog.has_topic(row.id):
                    raise  # a chunk file lost under a live topic: a storage fault
                raise deleted from None

        return schema, batches()

    def _column_share(self, chunks: list[ChunkRow], columns: list[str]) -> float:
        """The share of a topic's bytes in ``columns``, from the footer of its largest chunk
        (1.0 when it has none or the file is gone: the read then fails or is empty)."""
        if not chunks:
            return 1.0
        try:
            pf = self.chunks.open_chunk(max(chunks, key=lambda c: c.row_count).path)
        except FileNotFoundError:
            return 1.0
        return column_share(pf.metadata, columns)

    def begin_upload(self, cmd: UploadCommand, schema: pa.Schema) -> TopicUpload:
        """Claim the topic for this stream if spec §6.1 allows it (see ``claim_topic``); its
        rows are stored with the normalised schema (``upload_schema``)."""
        claim = claim_topic(self.catalog, cmd, schema, self.config.compression, self.server_id)
        topic = claim.topic
        cancelled = threading.Event()
        with self._uploads_lock:
            self._uploads[topic.id] = cancelled
        log.info(kv("upload.begin", topic=topic.locator))
        return TopicUpload(
            self.catalog, self.chunks, topic, claim.schema, claim.options,
            chunk_bytes=self.config.chunk_bytes,
            row_group_bytes=self.config.row_group_bytes,
            max_batch_bytes=self.config.limits.grpc_max_decode_message_size,
            cancelled=cancelled,
            writer=self._writer,
            owner=self.server_id,
        )  # fmt: skip

    def end_upload(self, upload: TopicUpload, ok: bool) -> None:
        """End a DoPut: with ``ok`` commit the last rows and mark the topic uploaded, else
        keep the rows accepted so far and mark it failed. If finishing fails the upload is
        aborted and the error raised; either way the topic no longer counts as open."""
        try:
            if ok:
                try:
                    upload.finish()
                except BaseException:
                    upload.abort()  # never leave the topic marked as uploading
                    raise
            else:
                upload.abort()
        finally:
            with self._uploads_lock:
                self._uploads.pop(upload.topic.id, None)
        log.info(kv("upload.end", topic=upload.topic.locator, ok=ok, rows=upload.rows))
