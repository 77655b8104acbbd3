"""Chunk files: Parquet through ``pyarrow.fs`` (no local-path assumptions), written atomically.

Layout under the store root: ``chunks/<topic id>/<chunk id>.parquet`` for committed data and
``tmp/`` for files being written. On a filesystem a chunk is written to ``tmp/``, closed and
made durable, then moved into place and its folder made durable (see ``durability``); only
then is it recorded in the catalog. The catalog notes each chunk file as a loose file before
it is written and after its row is deleted, so what a crash leaves under ``chunks/`` is
known and deleted by recovery without listing anything; what is left in ``tmp/`` is swept
at start-up.

On an object store (S3; see ``object_store``) a chunk is written straight to its final key:
an upload becomes visible whole when its stream closes (one PUT, or the completion of a
multipart upload) and is durable then, so there is no ``tmp/``, no rename and nothing to
sync. There are no folders either: nothing is created for them, nothing lists or deletes
them. A write that fails after its stream opened may still complete a partial object (the
stream's close completes the upload): it is deleted, and is anyway not in the catalog.
A chunk read whole is fetched in one GET, a chunk read in part in a few coalesced ranged
GETs (see ``open_chunk``).

pyarrow reports a write that failed (a full disk) by a second error raised while closing
the Parquet writer; ``write_chunk`` raises the filesystem's ``OSError`` instead, so that
callers can tell a full disk from a fault.
"""

from __future__ import annotations

import contextlib
import uuid

import attrs
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from mosaico.ontology.placeholders import fill_required_columns
from mosaico.server.durability import Durability, NoSync
from mosaico.server.object_store import is_object_store_fs
from mosaico.server.stats import leaves

TMP_DIR = "tmp"
CHUNK_DIR = "chunks"


def chunk_path(topic_id: str, chunk_id: str) -> str:
    """Where a chunk file lives, relative to the store root."""
    return f"{CHUNK_DIR}/{topic_id}/{chunk_id}.parquet"


@attrs.frozen
class WrittenChunk:
    """A chunk file moved into place: its path, its size in bytes and its Parquet footer
    (where the chunk statistics come from)."""

    path: str  # relative to the store root
    file_bytes: int
    metadata: pq.FileMetaData


def _parquet_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths of a schema, in leaf order (as pyarrow names them)."""
    sink = pa.BufferOutputStream()
    # Not ``schema.empty_table()``: it cannot build some extension arrays (tensors).
    pq.write_table(pa.Table.from_batches([], schema), sink)
    meta = pq.read_metadata(pa.BufferReader(sink.getvalue()))
    return [meta.schema.column(i).path for i in range(meta.num_columns)]


@attrs.frozen
class WriteOptions:
    """Parquet options derived once per topic schema and serialization format."""

    compression: str
    use_dictionary: list[str]
    write_statistics: list[str]

    @classmethod
    def for_schema(
        cls, schema: pa.Schema, serialization_format: str, compression: str
    ) -> WriteOptions:
        """Raises ``pa.ArrowException`` if Parquet cannot store the schema."""
        paths = _parquet_paths(schema)
        kinds = [leaf.kind for leaf in leaves(schema)]
        if len(kinds) != len(paths):
            kinds = [None] * len(paths)
        return cls(
            # Images are already compressed blobs: don't spend CPU on them.
            compression="none" if serialization_format == "image" else compression,
            use_dictionary=[p for p, k in zip(paths, kinds, strict=True) if k == "text"],
            write_statistics=[p for p, k in zip(paths, kinds, strict=True) if k is not None],
        )


class ChunkStore:
    """Chunk files on any ``pyarrow.fs`` filesystem, under ``root``, made durable by
    ``durability`` (default: nothing to do, as on an object store). An object store (by
    the filesystem's kind, ``object_store.is_object_store_fs``) is written without
    ``tmp/``, renames or folders (see the module docstring)."""

    def __init__(
        self, fs: pafs.FileSystem, root: str, durability: Durability | None = None
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.durability = durability or NoSync()
        self.object_store = is_object_store_fs(fs)

    def _abs(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def prepare(self) -> None:
        """Create the layout and prove it is writable; raises OSError with the reason. On an
        object store there is no layout to create: one object is written and deleted."""
        if self.object_store:
            probe = self._abs(f"probe-{uuid.uuid4().hex}")
            with self.fs.open_output_stream(probe) as out:
                out.write(b"ok")
            self.fs.delete_file(probe)
            return
        self.fs.create_dir(self._abs(CHUNK_DIR), recursive=True)
        self.fs.create_dir(self._abs(TMP_DIR), recursive=True)
        probe = self._abs(f"{TMP_DIR}/probe-{uuid.uuid4().hex}")
        with self.fs.open_output_stream(probe) as out:
            out.write(b"ok")
        self.fs.delete_file(probe)
        self.durability.sync_dir(self.root)  # chunks/, tmp/ and the catalog file

    def write_chunk(
        self, topic_id: str, chunk_id: str, table: pa.Table, options: WriteOptions,
        row_group_rows: int,
    ) -> WrittenChunk:  # fmt: skip
        """Write ``table`` as ``chunks/<topic_id>/<chunk_id>.parquet``: into ``tmp/`` first,
        then moved into place, so no reader sees a partial file. When this returns, the file
        and its directory entry are durable: the file synced before the move, its folder
        after (and ``chunks/`` when the folder is new). On failure the temporary file is
        removed and no chunk file lands under ``chunks/``. On an object store the object
        is written at its final key (see the module docstring) and deleted on failure.

        Args:
            topic_id: the topic UUID, the folder of the file.
            chunk_id: the chunk UUID, the name of the file.
            table: the rows, already sorted by ``timestamp_ns``.
            options: the topic's Parquet options (``WriteOptions.for_schema``).
            row_group_rows: rows per Parquet row group (at least 1 is used).

        Raises:
            OSError: the filesystem failed (``errno.ENOSPC`` for a full disk).
            pa.ArrowException: Parquet refused the table. Nulls in required columns under
                null parents are not a refusal: they are filled and the write retried.
        """
        final = chunk_path(topic_id, chunk_id)
        if self.object_store:
            target = self._abs(final)
            size, metadata = self._write_table(target, table, options, row_group_rows)
            return WrittenChunk(final, size, metadata)
        tmp = self._abs(f"{TMP_DIR}/{chunk_id}.parquet")
        size, metadata = self._write_table(tmp, table, options, row_group_rows)
        try:
            self.durability.sync_file(tmp)
            folder = self._topic_dir(topic_id)
            self.fs.move(tmp, self._abs(final))
            self.durability.sync_dir(folder)
        except BaseException:
            self._delete_quietly(tmp)
            raise
        return WrittenChunk(final, size, metadata)

    def _write_table(
        self, path: str, table: pa.Table, options: WriteOptions, row_group_rows: int
    ) -> tuple[int, pq.FileMetaData]:
        """Write the Parquet file at ``path`` (its size and footer), repairing the table
        once if Parquet refuses nulls in required columns; on failure ``path`` is deleted."""
        try:
            try:
                return self._write_parquet(path, table, options, row_group_rows)
            except (pa.ArrowInvalid, RuntimeError) as exc:
                if not _required_nulls(exc):
                    raise
                # Rare: nulls under null parents in required columns (see placeholders).
                repaired = fill_required_columns(table)
                return self._write_parquet(path, repaired, options, row_group_rows)
        except BaseException:
            self._delete_quietly(path)
            raise

    def _topic_dir(self, topic_id: str) -> str:
        """The topic's chunk folder, created (and ``chunks/`` synced) if it is new."""
        folder = self._abs(f"{CHUNK_DIR}/{topic_id}")
        if self.fs.get_file_info(folder).type == pafs.FileType.NotFound:
            self.fs.create_dir(folder, recursive=True)
            self.durability.sync_dir(self._abs(CHUNK_DIR))
        return folder

    def _write_parquet(
        self, path: str, table: pa.Table, options: WriteOptions, row_group_rows: int
    ) -> tuple[int, pq.FileMetaData]:
        """One attempt at writing ``path``: the bytes written and the footer."""
        collected: list[pq.FileMetaData] = []
        try:
            with self.fs.open_output_stream(path) as out:
                pq.write_table(
                    table,
                    out,
                    row_group_size=max(1, row_group_rows),
                    compression=options.compression,
                    use_dictionary=options.use_dictionary,
                    write_statistics=options.write_statistics,
                    metadata_collector=collected,
                )
                size = out.tell()
        except (RuntimeError, pa.ArrowException) as exc:
            cause = _masked_os_error(exc)
            if cause is None:
                raise
            raise cause from None
        return size, collected[0]

    def open_chunk(self, path: str, *, whole: bool = False) -> pq.ParquetFile:
        """Open a chunk for reading by its path relative to the store root (``ChunkRow.path``);
        the caller closes it. Raises ``OSError`` (``FileNotFoundError``) when it is gone.

        On an object store each request costs a round trip. With ``whole`` (the caller reads
        every column) the file is fetched in one GET; otherwise reads pre-buffer (not the
        default of every pyarrow this supports): a GET of the footer, then one coalesced
        GET per run of column chunks read, instead of one GET per column chunk and page.
        Both hold at most the file in memory. ``whole`` changes nothing on a filesystem."""
        source = self.fs.open_input_file(self._abs(path))
        if not self.object_store:
            return pq.ParquetFile(source)
        if whole:
            with source:
                return pq.ParquetFile(pa.BufferReader(source.read()))
        return pq.ParquetFile(source, pre_buffer=True)

    def _delete_quietly(self, absolute: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.delete_file(absolute)

    def delete_chunks(self, paths: list[str]) -> None:
        """Delete chunk files by relative path, ignoring files already gone and filesystem
        errors."""
        for path in paths:
            self._delete_quietly(self._abs(path))

    def discard_loose(self, paths: list[str]) -> None:
        """Delete what a dead server left of the chunk files it had noted as loose: each
        file, and in a folder the temporary file it was being written as
        (``tmp/<chunk id>.parquet``), if it died before the move."""
        self.delete_chunks(paths)
        if not self.object_store:
            for path in paths:
                self._delete_quietly(self._abs(f"{TMP_DIR}/{path.rsplit('/', 1)[-1]}"))

    def delete_topic_dirs(self, topic_ids: list[str]) -> None:
        """Delete the chunk folder of each topic with what it still holds, ignoring errors.
        Nothing on an object store, which has no folders (and would have to list keys)."""
        if self.object_store:
            return
        for topic_id in topic_ids:
            with contextlib.suppress(FileNotFoundError, OSError):
                self.fs.delete_dir(self._abs(f"{CHUNK_DIR}/{topic_id}"))

    def sweep_tmp(self) -> list[str]:
        """Delete what an earlier run left in ``tmp/`` (files being written when it
        stopped); returns their paths. Chunk files are never listed: the catalog's loose
        files say which may be orphans (see ``Catalog.recover``). Nothing on an object
        store, where nothing is written to ``tmp/`` (and listing it would cost a LIST)."""
        if self.object_store:
            return []
        removed = []
        selector = pafs.FileSelector(self._abs(TMP_DIR), allow_not_found=True, recursive=True)
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.File:
                self._delete_quietly(info.path)
                removed.append(info.path)
        return removed


def _masked_os_error(exc: BaseException) -> OSError | None:
    """The filesystem error behind a failed Parquet write, if there is one: a failed write
    makes pyarrow's writer raise again on closing ("file metadata is only available after
    writer close"), with the real ``OSError`` (e.g. ``ENOSPC``) as its context."""
    seen: BaseException | None = exc.__context__
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__context__
    return None


def _required_nulls(exc: BaseException | None) -> bool:
    """Did Parquet refuse nulls in a required column? (pyarrow may raise a second error
    while closing the writer, with the refusal as its context.)"""
    while exc is not None:
        if isinstance(exc, pa.ArrowInvalid) and "non-nullable" in str(exc):
            return True
        exc = exc.__context__
    return False
