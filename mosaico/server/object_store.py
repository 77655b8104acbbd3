"""Where a store's chunk files live: a local folder or an object store, from one location.

``open_filesystem`` reads a location given by the user (``mosaico serve --store``):

- ``s3://BUCKET/PREFIX``: an S3 bucket (AWS, Ceph RGW, MinIO, ...) through
  ``pyarrow.fs.S3FileSystem``. The endpoint and region come from ``AWS_ENDPOINT_URL`` (or
  ``AWS_ENDPOINT_URL_S3``) and ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) unless given
  as arguments (``--s3-endpoint``, ``--s3-region``); http or https from the endpoint's
  scheme. The keys are found by the AWS SDK itself: ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, the profile named by ``AWS_PROFILE``
  in ``~/.aws``, or the instance's role. The bucket must exist: it is not created, since a
  typo would otherwise start an empty store, and a bucket carries settings (region,
  access policy, lifecycle, versioning) that are its owner's to choose. The error says
  how to create it.
- a path, or ``file://PATH``: a local folder (nothing is checked or created here; the
  store does that).

Checksums. pyarrow 22 and later bundle an AWS SDK that computes a checksum of every upload
by default and sends it as an ``aws-chunked`` body with a trailing checksum header. S3
servers other than AWS reject that or store the chunk framing as data: Ceph RGW 16 answers
every part upload with HTTP 411 ``MissingContentLength``. The SDK's own switches,
``AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED`` and
``AWS_RESPONSE_CHECKSUM_VALIDATION=WHEN_REQUIRED``, restore plain signed uploads and
leave AWS working as before, so they are set in the process environment (which the SDK
reads when a filesystem is made) unless the user set them already. A value set in an
``~/.aws`` profile instead is overridden by these defaults: set the variables to keep it.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import attrs
import pyarrow.fs as pafs

from mosaico.errors import InputError

# The AWS SDK's switches (see the module docstring) and the values set when they are unset.
CHECKSUM_DEFAULTS = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "WHEN_REQUIRED",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "WHEN_REQUIRED",
}
# The region used with an endpoint of one's own when none is given: S3 servers other than
# AWS accept any region in signatures, and this one adds no location constraint.
DEFAULT_REGION = "us-east-1"
# ``pyarrow.fs`` type names of object stores: no real folders, no atomic rename, every
# write is one object created whole when its stream closes.
OBJECT_STORE_TYPES = frozenset({"s3", "gcs", "abfs"})


class StoreLocationError(InputError):
    """A store location that cannot be used: an unknown scheme, a malformed URL, an
    endpoint that does not answer, a bucket that does not exist."""


@attrs.frozen
class Location:
    """A store location opened: the filesystem, the root inside it (``BUCKET/PREFIX`` on
    S3, an absolute path locally), a URL naming it in messages (never with secrets) and
    whether it is an object store."""

    fs: pafs.FileSystem
    root: str
    url: str
    is_object_store: bool


def is_object_store_fs(fs: pafs.FileSystem) -> bool:
    """Whether ``fs`` is an object store (S3, GCS, Azure) rather than a filesystem."""
    return fs.type_name in OBJECT_STORE_TYPES


def open_filesystem(
    store: str, *, endpoint: str | None = None, region: str | None = None
) -> Location:
    """The filesystem and root of a store location (see the module docstring).

    Args:
        store: ``s3://BUCKET/PREFIX``, ``file://PATH`` or a path.
        endpoint: the S3 endpoint URL (``http://host:port``), over ``AWS_ENDPOINT_URL``.
        region: the S3 region, over ``AWS_REGION``.

    Raises:
        StoreLocationError: the location is malformed, its scheme unknown, its endpoint
            unreachable or its bucket missing.
    """
    parts = urllib.parse.urlsplit(store)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        return _open_s3(parts, endpoint, region)
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise StoreLocationError(
                f"store {_shown(parts)!r}: a file URL names a local path, file:///PATH"
            )
        return _local(urllib.parse.unquote(parts.path))
    if scheme and len(scheme) > 1:  # one letter: a Windows drive
        raise StoreLocationError(
            f"store {_shown(parts)!r}: unknown scheme {parts.scheme!r}; give a folder, "
            "file:///PATH or s3://BUCKET/PREFIX"
        )
    return _local(store)


def _shown(parts: urllib.parse.SplitResult) -> str:
    """A URL as messages show it: without the user and password it may hold."""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def _local(path: str) -> Location:
    root = os.path.abspath(path)
    return Location(pafs.LocalFileSystem(), root, Path(root).as_uri(), is_object_store=False)


def _open_s3(parts: urllib.parse.SplitResult, endpoint: str | None, region: str | None) -> Location:
    bucket, prefix = _bucket_and_prefix(parts)
    url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
    endpoint = (
        endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    for name, value in CHECKSUM_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Delayed open: an object smaller than one upload part (10 MiB) is sent in one PUT when
    # its stream closes, instead of a multipart upload's three requests (a small chunk is
    # written about 10 times faster); errors of the open then show at the close.
    fs = pafs.S3FileSystem(allow_delayed_open=True, **_s3_options(endpoint, region))
    where = f" at {endpoint}" if endpoint else ""
    try:
        found = fs.get_file_info(bucket).type
    except OSError as exc:
        raise StoreLocationError(f"store {url}: the bucket cannot be used{where}: {exc}") from exc
    if found == pafs.FileType.NotFound:
        raise StoreLocationError(
            f"store {url}: the bucket {bucket!r} does not exist{where}; create it first "
            f"(e.g. `aws s3 mb s3://{bucket}`; mosaico does not create buckets)"
        )
    root = f"{bucket}/{prefix}" if prefix else bucket
    return Location(fs, root, url, is_object_store=True)


def _s3_options(endpoint: str | None, region: str | None) -> dict[str, str]:
    """``S3FileSystem`` options of an endpoint URL (or AWS's) and a region (or the
    environment's, or the SDK's choice; ``DEFAULT_REGION`` with an endpoint of one's own)."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    options: dict[str, str] = {}
    if endpoint:
        options["scheme"], options["endpoint_override"] = _split_endpoint(endpoint)
        region = region or DEFAULT_REGION
    if region:
        options["region"] = region
    return options


def _bucket_and_prefix(parts: urllib.parse.SplitResult) -> tuple[str, str]:
    """The bucket and the key prefix (no slash at either end) of an ``s3://`` location."""
    shown = _shown(parts)
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise StoreLocationError(
            f"store {shown!r}: an S3 location is s3://BUCKET/PREFIX, without options or "
            "credentials (the keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    bucket = parts.netloc
    if not bucket:
        raise StoreLocationError(f"store {shown!r}: no bucket; give s3://BUCKET/PREFIX")
    prefix = parts.path.removeprefix("/").removesuffix("/")
    if prefix and any(s in ("", ".", "..") for s in prefix.split("/")):
        raise StoreLocationError(
            f"store {shown!r}: the prefix may not hold empty, '.' or '..' segments"
        )
    return bucket, prefix


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """(scheme, host[:port]) of an endpoint URL such as ``http://127.0.0.1:7480``."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StoreLocationError(
            f"S3 endpoint {endpoint!r}: give a URL, http://HOST:PORT or https://HOST"
        )
    if parts.path.strip("/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise StoreLocationError(
            f"S3 endpoint {parts.scheme}://{parts.hostname}: give only scheme, host and port"
        )
    return parts.scheme, parts.netloc
