"""One topic's DoPut: whether it may start (spec §6.1), then buffer incoming batches, sort,
roll Parquet chunks by size, commit.

``check_upload`` is the one place of the upload preconditions, in the spec's order; the
catalog runs it inside the transaction that claims the topic, so the checks and the claim
are atomic. A full buffer is handed to a shared writer pool so that encoding Parquet overlaps
with receiving the next rows; each upload keeps at most one chunk in flight (bounded memory).
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Executor, Future

import numpy as np
import pyarrow as pa

from mosaico.protocol.errors import FailedPrecondition, Internal, InvalidArgument, NotFound
from mosaico.server.catalog import CREATED, Catalog, ChunkRow, TopicRow
from mosaico.server.logs import kv
from mosaico.server.stats import chunk_stats
from mosaico.server.storage import TIMESTAMP, ChunkStore, WriteOptions

log = logging.getLogger("mosaico.server.upload")


def check_upload(
    topic: TopicRow, topic_uuid: str, schema: pa.Schema, compression: str
) -> WriteOptions:
    """Refuse a DoPut that spec §6.1 forbids; returns the Parquet options of its schema.

    The checks, in the spec's order (the catalog found the topic, the first one): the
    upload key is the topic's UUID, its session is not finalized, it has not received an
    upload yet, the schema has exactly one ``timestamp_ns`` column of type int64, and
    Parquet can store the schema.

    Raises:
        InvalidArgument: a wrong upload key or a schema that cannot be stored.
        FailedPrecondition: the topic is locked or already (being) uploaded.
    """
    if topic.id != topic_uuid:
        raise InvalidArgument(f"topic_uuid does not match topic {topic.locator!r}")
    if topic.locked:
        raise FailedPrecondition(f"topic {topic.locator!r} belongs to a finalized session")
    if topic.state != CREATED:
        raise FailedPrecondition(f"topic {topic.locator!r} already received an upload")
    matches = [f for f in schema if f.name == TIMESTAMP]
    if len(matches) != 1 or matches[0].type != pa.int64():
        raise InvalidArgument(
            f"upload schema must have exactly one field '{TIMESTAMP}' of type int64, "
            f"got {[str(f.type) for f in matches] or 'none'}"
        )
    try:
        return WriteOptions.for_schema(schema, topic.serialization_format, compression)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise InvalidArgument(f"upload schema cannot be stored: {exc}") from exc


class TopicUpload:
    """Owns the rows received for one topic that are not yet in a committed chunk."""

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
        self._inflight: Future[None] | None = None
        self.rows = 0

    def _check_live(self) -> None:
        if self._cancelled.is_set():
            raise NotFound(f"topic {self.topic.locator!r} was deleted during its upload")

    def add(self, batch: pa.RecordBatch) -> None:
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
        """Wait for the chunk in flight; its failure is raised here."""
        if self._inflight is not None:
            future, self._inflight = self._inflight, None
            future.result()

    def _write_chunk(self, table: pa.Table, ordinal: int) -> None:
        """Sort, write the file atomically, then record it in the catalog."""
        ts = table.column(self._ts_index).to_numpy()
        if len(ts) > 1 and not bool((ts[1:] >= ts[:-1]).all()):
            order = np.argsort(ts, kind="stable")
            table, ts = table.take(pa.array(order)), ts[order]
        self._check_live()
        chunk_id = str(uuid.uuid4())
        row_bytes = max(1, table.nbytes // table.num_rows)
        written = self._chunks.write_chunk(
            self.topic.id, chunk_id, table, self._options, self._row_group_bytes // row_bytes
        )
        row = ChunkRow(
            chunk_id, self.topic.id, ordinal, written.path, table.num_rows,
            written.file_bytes, table.nbytes, int(ts[0]), int(ts[-1]),
        )  # fmt: skip
        try:
            committed = self._catalog.add_chunk(row, chunk_stats(written.metadata, self.schema))
        except BaseException:
            self._chunks.delete_chunks([written.path])
            raise
        if not committed:
            self._chunks.delete_chunks([written.path])
            raise NotFound(f"topic {self.topic.locator!r} was deleted during its upload")
        self.rows += table.num_rows
        log.debug(kv("chunk.commit", topic=self.topic.locator, rows=table.num_rows,
                     bytes=written.file_bytes))  # fmt: skip

    def finish(self) -> None:
        """Make everything durable, then mark the upload complete."""
        try:
            self.flush(wait=True)
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
