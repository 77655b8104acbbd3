"""Chunk files on S3 (the session's real Ceph RGW): written at their final keys, read back,
deleted, without listing anything or making folders; and the store locations that lead
there (``object_store``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from mosaico.server.durability import NoSync
from mosaico.server.object_store import (
    CHECKSUM_DEFAULTS,
    DEFAULT_REGION,
    StoreLocationError,
    open_filesystem,
)
from mosaico.server.storage import ChunkStore, WriteOptions, chunk_path
from tests.scale.services import RgwService

TOPIC = "0f6bb1a8-1a5e-4d8a-9d33-d3b9c1e0a001"
CHUNK = "7c1f0b8e-2b36-4c55-a3f0-6a0f4f6e0002"
SCHEMA = pa.schema([("timestamp_ns", pa.int64()), ("value", pa.float64()), ("note", pa.string())])
OPTIONS = WriteOptions.for_schema(SCHEMA, "default", "none")


def _table(rows: int = 1000) -> pa.Table:
    return pa.table(
        {
            "timestamp_ns": pa.array(range(rows), pa.int64()),
            "value": pa.array([i / 3 for i in range(rows)]),
            "note": pa.array([f"row {i}" for i in range(rows)]),
        },
        schema=SCHEMA,
    )


class CountingS3(pafs.S3FileSystem):
    """The real S3 filesystem, recording the calls made to it from Python (instrumentation:
    every call still goes to the gateway)."""

    calls: list[tuple[str, Any]]

    def _note(self, name: str, arg: Any) -> None:
        if not hasattr(self, "calls"):
            self.calls = []
        self.calls.append((name, arg))

    def get_file_info(self, paths_or_selector: Any) -> Any:
        listing = isinstance(paths_or_selector, pafs.FileSelector)
        self._note("list" if listing else "get_file_info", paths_or_selector)
        return super().get_file_info(paths_or_selector)

    def create_dir(self, path: str, *, recursive: bool = True) -> None:
        self._note("create_dir", path)
        super().create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._note("delete_dir", path)
        super().delete_dir(path)

    def delete_dir_contents(self, path: str, *, missing_dir_ok: bool = False) -> None:
        self._note("delete_dir_contents", path)
        super().delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def move(self, src: str, dest: str) -> None:
        self._note("move", src)
        super().move(src, dest)

    def open_output_stream(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self._note("write", path)
        return super().open_output_stream(path, *args, **kwargs)

    def open_input_file(self, path: str) -> Any:
        self._note("read", path)
        return super().open_input_file(path)

    def delete_file(self, path: str) -> None:
        self._note("delete", path)
        super().delete_file(path)


@pytest.fixture
def counted(rgw: RgwService, s3_env: dict[str, str]) -> Iterator[tuple[CountingS3, str]]:
    """A counting S3 filesystem and a fresh store root (``BUCKET/PREFIX``) of this test."""
    fs = rgw.filesystem(CountingS3)
    assert isinstance(fs, CountingS3)
    fs.calls = []
    yield fs, rgw.store_url().removeprefix("s3://")


def test_a_chunk_round_trips_at_its_final_key(counted: tuple[CountingS3, str]) -> None:
    fs, root = counted
    store = ChunkStore(fs, root)
    assert store.object_store and isinstance(store.durability, NoSync)
    store.prepare()
    table = _table()
    written = store.write_chunk(TOPIC, CHUNK, table, OPTIONS, row_group_rows=300)
    assert written.path == chunk_path(TOPIC, CHUNK)
    assert written.metadata.num_rows == 1000 and written.metadata.num_row_groups == 4
    assert fs.get_file_info(f"{root}/{written.path}").size == written.file_bytes
    # Nothing was written anywhere else (no tmp/ copy, no probe left behind).
    writes = [path for name, path in fs.calls if name == "write"]
    assert writes[1:] == [f"{root}/{written.path}"]
    assert fs.get_file_info(writes[0]).type == pafs.FileType.NotFound  # the probe
    chunk = store.open_chunk(written.path)
    assert chunk.read().equals(table)
    store.delete_chunks([written.path])
    assert fs.get_file_info(f"{root}/{written.path}").type == pafs.FileType.NotFound


def test_nothing_lists_makes_moves_or_deletes_folders(counted: tuple[CountingS3, str]) -> None:
    fs, root = counted
    store = ChunkStore(fs, root)
    store.prepare()
    written = store.write_chunk(TOPIC, CHUNK, _table(), OPTIONS, row_group_rows=500)
    assert store.open_chunk(written.path).read().num_rows == 1000
    store.delete_chunks([written.path, chunk_path(TOPIC, "gone")])
    store.delete_topic_dirs([TOPIC])
    assert store.sweep_tmp() == []
    names = {name for name, _ in fs.calls}
    assert names <= {"write", "read", "delete", "get_file_info"}, fs.calls
    assert names >= {"write", "read", "delete"}


def test_a_failed_write_leaves_no_object(counted: tuple[CountingS3, str]) -> None:
    fs, root = counted
    store = ChunkStore(fs, root)
    union = pa.UnionArray.from_sparse(
        pa.array([0, 0], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])]
    )
    refused = pa.table({"timestamp_ns": pa.array([1, 2], pa.int64()), "u": union})
    # The stream is opened (the upload begun) before Parquet refuses the union.
    with pytest.raises(pa.ArrowNotImplementedError):
        store.write_chunk(TOPIC, CHUNK, refused, OPTIONS, row_group_rows=10)
    assert ("write", f"{root}/{chunk_path(TOPIC, CHUNK)}") in fs.calls
    assert fs.get_file_info(f"{root}/{chunk_path(TOPIC, CHUNK)}").type == pafs.FileType.NotFound


def test_prepare_fails_with_the_reason_on_a_read_only_bucket(rgw: RgwService) -> None:
    # Anonymous requests may not write to the bucket: prepare proves the store writable.
    c = rgw.credentials
    scheme, _, host = c.endpoint.partition("://")
    fs = pafs.S3FileSystem(anonymous=True, region=c.region, scheme=scheme, endpoint_override=host)
    with pytest.raises(OSError, match="ACCESS_DENIED"):
        ChunkStore(fs, rgw.store_url().removeprefix("s3://")).prepare()


# -- store locations -----------------------------------------------------------------------


def test_an_s3_location_opens_the_bucket_prefix(s3_store: str) -> None:
    location = open_filesystem(s3_store + "/")
    assert location.is_object_store
    assert location.url == s3_store
    assert location.root == s3_store.removeprefix("s3://")
    ChunkStore(location.fs, location.root).prepare()  # keys and endpoint from the env


def test_a_missing_bucket_is_named_with_how_to_create_it(s3_env: dict[str, str]) -> None:
    with pytest.raises(StoreLocationError) as caught:
        open_filesystem("s3://no-such-bucket/data")
    message = str(caught.value)
    assert "bucket 'no-such-bucket' does not exist at http://127.0.0.1:" in message
    assert "aws s3 mb s3://no-such-bucket" in message


def test_flags_override_the_environment(
    rgw: RgwService, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    with pytest.raises(StoreLocationError, match=r"cannot be used at http://127.0.0.1:9\b"):
        open_filesystem(rgw.store_url())
    location = open_filesystem(
        rgw.store_url(), endpoint=rgw.credentials.endpoint, region=rgw.credentials.region
    )
    ChunkStore(location.fs, location.root).prepare()


def test_wrong_keys_are_reported_without_the_secret(
    rgw: RgwService, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789")
    with pytest.raises(StoreLocationError) as caught:
        open_filesystem(rgw.store_url())
    assert "the bucket cannot be used" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)


def test_checksum_switches_default_so_that_uploads_work(
    rgw: RgwService, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CHECKSUM_DEFAULTS:
        monkeypatch.delenv(name)
    # What the defaults are for: the SDK's own choice makes the gateway refuse uploads.
    key = f"{rgw.store_url().removeprefix('s3://')}/object"
    with pytest.raises(OSError, match="411"), rgw.filesystem().open_output_stream(key) as out:
        out.write(b"data")
    location = open_filesystem(rgw.store_url())
    assert {name: os.environ[name] for name in CHECKSUM_DEFAULTS} == CHECKSUM_DEFAULTS
    ChunkStore(location.fs, location.root).prepare()


def test_checksum_switches_set_by_the_user_are_kept(
    s3_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "WHEN_SUPPORTED")
    open_filesystem(s3_store)
    assert os.environ["AWS_RESPONSE_CHECKSUM_VALIDATION"] == "WHEN_SUPPORTED"


def test_an_endpoint_of_ones_own_defaults_the_region(
    s3_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    location = open_filesystem(s3_store)
    assert location.fs.region == DEFAULT_REGION
