"""One topic's DoPut: whether it may start (spec §6.1), then buffer incoming batches, sort,
roll Parquet chunks by size, commit.

``claim_topic`` is the one place of the upload preconditions, checked in the spec's order;
the topic's checks run again inside the catalog transaction that claims the topic, so two
uploads cannot both claim it. A full buffer is handed to a shared writer pool so that
encoding Parquet overlaps with receiving the next rows; each upload keeps at most one chunk
in flight (bounded memory).
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from concurrent.futures import Executor, Future

import attrs
import numpy as np
import pyarrow as pa

from mosaico.protocol.commands import UploadCommand
from mosaico.protocol.errors import (
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    ProtocolError,
)
from mosaico.protocol.topic_type import TIMESTAMP
from mosaico.server.catalog import CREATED, Catalog, ChunkRow, TopicRow
from mosaico.server.disk_space import OutOfSpace, disk_full_reason
from mosaico.server.logs import kv
from mosaico.server.stats import chunk_stats
from mosaico.server.storage import ChunkStore, WriteOptions, chunk_path
from mosaico.server.upload_batches import stored_batch
from mosaico.server.upload_schema import stored_schema

log = logging.getLogger("mosaico.server.upload")


@attrs.frozen
class Claim:
    """A topic claimed for one DoPut: its row, the schema its rows are stored with (the
    upload schema normalised, see ``upload_schema``) and that schema's Parquet options."""

    topic: TopicRow
    schema: pa.Schema
    options: WriteOptions


def claim_topic(
    catalog: Catalog, cmd: UploadCommand, schema: pa.Schema, compression: str, owner: str
) -> Claim:
    """Check that spec §6.1 allows this DoPut, in the spec's order, then claim the topic for
    it, storing the normalised schema (``upload_schema.stored_schema``).

    The order: the topic exists, the upload key is its UUID, its session is not finalized,
    it has not received an upload yet, the schema has exactly one ``timestamp_ns`` column of
    type int64, and the store can keep every column's type. The schema is examined outside
    the catalog's transaction (a Parquet probe of a few ms); the claim repeats the topic
    checks inside it, so of two concurrent uploads of a topic only one can claim it. A
    refusal claims nothing: the topic can still receive its upload.

    Raises:
        NotFound: no such topic.
        InvalidArgument: a wrong upload key or a schema that cannot be stored.
        FailedPrecondition: the topic is locked or already (being) uploaded.
    """
    check = functools.partial(_check_topic, topic_uuid=cmd.topic_uuid)
    topic = catalog.get_topic(cmd.topic.sequence, cmd.topic.path)
    check(topic)
    stored, options = _check_schema(schema, topic.serialization_format, compression)
    claimed = catalog.begin_upload(
        cmd.topic.sequence, cmd.topic.path, stored.serialize().to_pybytes(), check, owner
    )
    return Claim(claimed, stored, options)


def _check_topic(topic: TopicRow, topic_uuid: str) -> None:
    """Checks 2-4 of spec §6.1: the upload key, the lock, no upload yet."""
    if topic.id != topic_uuid:
        raise InvalidArgument(f"topic_uuid does not match topic {topic.locator!r}")
    if topic.locked:
        raise FailedPrecondition(f"topic {topic.locator!r} belongs to a finalized session")
    if topic.state != CREATED:
        raise FailedPrecondition(f"topic {topic.locator!r} already received an upload")


def _check_schema(
    schema: pa.Schema, serialization_format: str, compression: str
) -> tuple[pa.Schema, WriteOptions]:
    """Checks 5-6 of spec §6.1: one int64 ``timestamp_ns`` column, a storable schema; returns
    the schema to store and its Parquet options."""
    matches = [f for f in schema if f.name == TIMESTAMP]
    if len(matches) != 1 or matches[0].type != pa.int64():
        raise InvalidArgument(
            f"upload schema must have exactly one field '{TIMESTAMP}' of type int64, "
            f"got {[str(f.type) for f in matches] or 'none'}"
        )
    return stored_schema(schema, serialization_format, compression)


class TopicUpload:
    """Owns the rows received for one topic that are not yet in a committed chunk.

    Made by ``Store.begin_upload`` once the topic is claimed; ``add`` takes each batch of the
    stream (converted to the stored ``schema``), then ``finish`` or ``abort`` ends it (``Store.end_upload`` picks which). ``rows``
    counts the rows committed so far. Once ``cancelled`` is set (the topic is being
    deleted) ``add`` and the chunk writes raise ``NotFound``, and ``abort`` drops the rows
    still buffered.
    """

    def __init__(
        self,
        catalog: Catalog,
        chunks: ChunkStore,
        topic: TopicRow,
        schema: pa.Schema,
        options: WriteOptions,
        *,
        chunk_bytes: int,
        row_group_bytes: int,
        max_batch_bytes: int,
        cancelled: threading.Event,
        writer: Executor,
        owner: str,
    ) -> None:
        self.topic = topic
        self.schema = schema
        self._catalog = catalog
        self._chunks = chunks
        self._options = options
        self._chunk_bytes = chunk_bytes
        self._row_group_bytes = row_group_bytes
        self._max_batch_bytes = max_batch_bytes
        self._cancelled = cancelled
        self._ts_index = schema.get_field_index(TIMESTAMP)
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        self._ordinal = 0
        self._writer = writer
        self._owner = owner
        self._inflight: Future[None] | None = None
        self.rows = 0

    def _check_live(self) -> None:
        if self._cancelled.is_set():
            raise NotFound(f"topic {self.topic.locator!r} was deleted during its upload")

    def add(self, batch: pa.RecordBatch) -> None:
        """Buffer one uploaded batch (empty ones are ignored); once ``chunk_bytes`` are
        buffered, hand them to the writer pool as a chunk, after waiting for the chunk
        before it, whose failure is raised here.

        Raises:
            NotFound: the topic was deleted during the upload.
            InvalidArgument: the batch is larger than ``max_batch_bytes`` (the server's
                decode limit), has nulls in ``timestamp_ns``, is not valid Arrow data
                (offsets out of range, text that is not UTF-8) or cannot be stored as the
                stored schema (see ``upload_batches.stored_batch``).
        """
        self._check_live()
        if batch.num_rows == 0:
            return
        size = pa.ipc.get_record_batch_size(batch)
        if size > self._max_batch_bytes:
            raise InvalidArgument(
                f"record batch of {size} bytes exceeds grpc_max_decode_message_size "
                f"({self._max_batch_bytes} bytes)"
            )
        if batch.column(self._ts_index).null_count:
            raise InvalidArgument(f"{TIMESTAMP} contains nulls in an uploaded batch")
        batch = stored_batch(batch, self.schema, self._max_batch_bytes)
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        if self._pending_bytes >= self._chunk_bytes:
            self.flush()

    def flush(self, wait: bool = False) -> None:
        """Hand the buffered rows to the writer pool as one chunk; ``wait`` for it to land."""
        if self._pending:
            table = pa.Table.from_batches(self._pending, self.schema)
            self._pending, self._pending_bytes = [], 0
            self._await()
            ordinal, self._ordinal = self._ordinal, self._ordinal + 1
            self._inflight = self._writer.submit(self._write_chunk, table, ordinal)
        if wait:
            self._await()

    def _await(self) -> None:
        """Wait for the chunk in flight; its failure is raised here, a full disk as
        `OutOfSpace` naming the topic and the rows it keeps."""
        if self._inflight is not None:
            future, self._inflight = self._inflight, None
            try:
                future.result()
            except OSError as exc:  # OutOfSpace from the catalog is one too (Unavailable)
                reason = disk_full_reason(exc)
                if reason is None:
                    raise
                kept = f"the {self.rows} rows committed before are kept"
                raise OutOfSpace(reason, f"topic {self.topic.locator!r}; {kept}") from exc

    def _write_chunk(self, table: pa.Table, ordinal: int) -> None:
        """Sort, write the file atomically, then record it in the catalog."""
        ts = table.column(self._ts_index).to_numpy()
        if len(ts) > 1 and not bool((ts[1:] >= ts[:-1]).all()):
            order = np.argsort(ts, kind="stable")
            table, ts = table.take(pa.array(order)), ts[order]
        self._check_live()
        chunk_id = str(uuid.uuid4())
        row_bytes = max(1, table.nbytes // table.num_rows)
        path = chunk_path(self.topic.id, chunk_id)
        # Noted first: if this server dies before the chunk row commits, recovery deletes it.
        self._catalog.note_loose(path, self._owner)
        committed = False
        try:
            written = self._chunks.write_chunk(
                self.topic.id, chunk_id, table, self._options, self._row_group_bytes // row_bytes
            )
            row = ChunkRow(
                chunk_id, self.topic.id, ordinal, written.path, table.num_rows,
                written.file_bytes, table.nbytes, int(ts[0]), int(ts[-1]),
            )  # fmt: skip
            committed = self._catalog.add_chunk(row, chunk_stats(written.metadata, self.schema))
        finally:
            if not committed:
                self._chunks.delete_chunks([path])
                self._catalog.forget_loose([path])
        if not committed:
            raise NotFound(
                f"topic {self.topic.locator!r} was deleted, or its upload ended, meanwhile"
            )
        self.rows += table.num_rows
        log.debug(kv("chunk.commit", topic=self.topic.locator, rows=table.num_rows,
                     bytes=written.file_bytes))  # fmt: skip

    def finish(self) -> None:
        """Make everything durable, then mark the upload complete."""
        try:
            self.flush(wait=True)
        except ProtocolError:
            raise
        except OSError as exc:
            raise Internal(f"could not store topic {self.topic.locator!r}: {exc}") from exc
        self._catalog.end_upload(self.topic.id, ok=True)

    def abort(self) -> None:
        """The stream failed: keep the valid rows received before the failure (they were
        accepted), unless the topic is being deleted; mark the upload failed (spec §5.4.5)."""
        if self._cancelled.is_set():
            self._pending, self._pending_bytes = [], 0
        try:
            self.flush(wait=True)  # the chunk in flight must land before the state changes
        except (OSError, pa.ArrowException, NotFound) as exc:
            log.warning(kv("upload.abort.flush_failed", topic=self.topic.locator, error=exc))
        self._pending, self._pending_bytes = [], 0
        self._catalog.end_upload(self.topic.id, ok=False)
