"""Store locations as the user writes them: which are local folders, which object stores,
and the errors that name what is wrong (no service needed: nothing is reached)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from mosaico.errors import InputError
from mosaico.server.object_store import StoreLocationError, is_object_store_fs, open_filesystem


@pytest.mark.parametrize("form", ["{path}", "file://{path}", "file://localhost{path}"])
def test_paths_and_file_urls_are_local_folders(tmp_path: Path, form: str) -> None:
    location = open_filesystem(form.format(path=tmp_path))
    assert isinstance(location.fs, pafs.LocalFileSystem)
    assert not location.is_object_store and not is_object_store_fs(location.fs)
    assert location.root == str(tmp_path)
    assert location.url == tmp_path.as_uri()


def test_a_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_filesystem("store").root == str(tmp_path / "store")


def test_a_percent_encoded_file_url_is_decoded(tmp_path: Path) -> None:
    assert open_filesystem((tmp_path / "a b").as_uri()).root == str(tmp_path / "a b")


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        ("gs://bucket/data", "store 'gs://bucket/data': unknown scheme 'gs'"),
        ("https://user:pw@host/x", "store 'https://host/x': unknown scheme 'https'"),
        ("file://server/share", "a file URL names a local path, file:///PATH"),
        ("s3:///data", "store 's3:/data': no bucket"),
        ("s3://bucket//data", "may not hold empty, '.' or '..' segments"),
        ("s3://bucket/a/../b", "may not hold empty, '.' or '..' segments"),
        ("s3://bucket/data?region=x", "without options or credentials"),
        ("s3://key:secret@bucket/data", "store 's3://bucket/data': an S3 location is"),
    ],
)
def test_malformed_locations_are_refused_by_name(store: str, expected: str) -> None:
    with pytest.raises(StoreLocationError) as caught:
        open_filesystem(store)
    assert isinstance(caught.value, InputError)
    assert expected in str(caught.value)
    assert "secret" not in str(caught.value) and "pw" not in str(caught.value)


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("127.0.0.1:7480", "give a URL, http://HOST:PORT or https://HOST"),
        ("ftp://host", "give a URL, http://HOST:PORT or https://HOST"),
        ("http://host:7480/path", "S3 endpoint http://host: give only scheme, host and port"),
        ("http://k:secret@host", "S3 endpoint http://host: give only scheme, host and port"),
    ],
)
def test_malformed_endpoints_are_refused_by_name(endpoint: str, expected: str) -> None:
    with pytest.raises(StoreLocationError) as caught:
        open_filesystem("s3://bucket/data", endpoint=endpoint)
    assert expected in str(caught.value)
    assert "secret" not in str(caught.value)
