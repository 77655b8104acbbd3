"""The scale tier's services for tests: one PostgreSQL and one Ceph RGW per test session.

Each is started through its script in ``deploy/`` (the same ones a user runs), in a fresh
temporary folder, the first time a test asks for it (the session fixtures ``postgres`` and
``rgw``), and stopped and removed when the session ends. Tests share the one server and
get isolated pieces of it: a catalog of their own (``PostgresService.catalog_url``: a
fresh schema), a store of their own (``RgwService.store_url``: a fresh key prefix).

The services need the Debian packages ``postgresql`` and ``ceph-mon ceph-osd radosgw
ceph-common`` (``.ci/run`` installs them). Where they are missing the fixtures fail, with
the scripts' message naming the package: a missing service is not a reason to pass.

Ports: a free block of ``MOSAICO_TEST_PORT_BASE`` (default 17400) and above, on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import attrs
import pyarrow.fs as pafs
import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PORT_BASE = int(os.environ.get("MOSAICO_TEST_PORT_BASE", "17400"))
PORT_SPAN = 100  # the ports tried above the base
RGW_PORTS = 10  # the endpoint, the monitor, the OSD (deploy/ceph-rgw.sh)
START_TIMEOUT_S = 300


class ServiceError(RuntimeError):
    """A service script failed; the message holds what it printed."""


def _script(name: str, action: str, folder: Path, port: int) -> str:
    """Run ``deploy/NAME action folder port``; its standard output (``env`` lines)."""
    command = [str(DEPLOY / name), action, str(folder), str(port)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{' '.join(command)} took more than {START_TIMEOUT_S}s") from exc
    if done.returncode != 0:
        raise ServiceError(f"{' '.join(command)} failed:\n{done.stderr.strip()}")
    return done.stdout


def _exports(text: str) -> dict[str, str]:
    """The variables of ``export NAME=VALUE`` lines (the scripts' ``env`` output)."""
    lines = (line.removeprefix("export ") for line in text.splitlines())
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int, taken: set[int] | None = None) -> int:
    """The first port of ``size`` consecutive free ports (none in ``taken``) in the test
    range."""
    taken = taken or set()
    for first in range(PORT_BASE, PORT_BASE + PORT_SPAN - size + 1):
        block = range(first, first + size)
        if not taken.intersection(block) and all(_free(p) for p in block):
            return first
    raise ServiceError(
        f"no {size} free consecutive ports in {PORT_BASE}-{PORT_BASE + PORT_SPAN - 1} "
        "(set MOSAICO_TEST_PORT_BASE)"
    )


class _Service:
    """A service started by a deploy script in its own temporary folder."""

    script = ""

    def __init__(self, port: int) -> None:
        # Directly under the temporary folder, so that PostgreSQL's own user (the server
        # does not run as root) may enter it; pytest's base folder is private to root.
        self.folder = Path(tempfile.mkdtemp(prefix=f"mosaico-{self.script[:-3]}-"))
        self.port = port
        self.variables: dict[str, str] = {}

    def start(self) -> None:
        """Start the service and read its variables; raises ``ServiceError``."""
        _script(self.script, "start", self.folder, self.port)
        self.variables = _exports(_script(self.script, "env", self.folder, self.port))

    def stop(self) -> None:
        """Stop the service and delete its folder."""
        try:
            _script(self.script, "stop", self.folder, self.port)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class PostgresService(_Service):
    """The session's PostgreSQL server (``deploy/postgres.sh``)."""

    script = "postgres.sh"

    @property
    def url(self) -> str:
        """The URL of the server's ``mosaico`` database (``MOSAICO_CATALOG``)."""
        return self.variables["MOSAICO_CATALOG"]

    def catalog_url(self) -> str:
        """A catalog URL no other test uses: a new, empty schema of the ``mosaico``
        database, made the connection's search path. (A schema takes about 6 ms to make,
        a database about 45 ms: CREATE DATABASE copies and syncs a template.)"""
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.url}?options=-csearch_path%3D{schema}"


@attrs.frozen
class S3Credentials:
    """What an S3 client needs to reach the session's gateway."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str


class RgwService(_Service):
    """The session's Ceph cluster and S3 gateway (``deploy/ceph-rgw.sh``), with its bucket
    ``mosaico``."""

    script = "ceph-rgw.sh"
    bucket = "mosaico"

    @property
    def credentials(self) -> S3Credentials:
        """The endpoint URL, keys and region of the gateway."""
        v = self.variables
        return S3Credentials(
            v["AWS_ENDPOINT_URL"], v["AWS_ACCESS_KEY_ID"], v["AWS_SECRET_ACCESS_KEY"],
            v["AWS_REGION"],
        )  # fmt: skip

    @property
    def env(self) -> dict[str, str]:
        """The AWS variables a process needs to use the gateway (endpoint, keys, region,
        the checksum switches that keep the SDK's uploads plain, and no EC2 metadata
        lookup, which costs the first request of a process a second off EC2)."""
        names = (
            "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION",
            "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION",
            "AWS_EC2_METADATA_DISABLED",
        )  # fmt: skip
        return {name: self.variables[name] for name in names}

    def store_url(self) -> str:
        """An ``s3://`` store location no other test uses: a fresh prefix of the bucket."""
        return f"s3://{self.bucket}/t-{uuid.uuid4().hex[:16]}"

    def filesystem(self, kind: type[pafs.S3FileSystem] = pafs.S3FileSystem) -> pafs.S3FileSystem:
        """A ``pyarrow.fs`` client of the gateway (an instance of ``kind``, the S3
        filesystem or a subclass) configured explicitly, not from the environment. Its
        uploads need the checksum switches in the process environment (``env``)."""
        c = self.credentials
        scheme, _, host = c.endpoint.partition("://")
        return kind(
            access_key=c.access_key, secret_key=c.secret_key, region=c.region,
            scheme=scheme, endpoint_override=host,
        )  # fmt: skip


S = TypeVar("S", bound="_Service")
ATTEMPTS = 3  # another test session may take the ports between the check and the start


def _start(kind: type[S], ports: int) -> S:
    """A started service on a block of ``ports`` free ports; the test fails (naming what
    is wrong) when it cannot start, after trying other ports unless a package is missing."""
    errors = []
    for _ in range(ATTEMPTS):
        first = free_port_block(ports, taken=_claimed)
        _claimed.update(range(first, first + ports))
        service = kind(first)
        try:
            service.start()
            return service
        except ServiceError as exc:
            with contextlib.suppress(ServiceError):
                service.stop()
            errors.append(str(exc))
            if "install" in str(exc):
                break
    pytest.fail(f"{kind.script} could not start:\n" + "\n".join(errors), pytrace=False)


# Ports given to a service of this session (free until its daemons bind them).
_claimed: set[int] = set()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresService]:
    """The session's PostgreSQL server, started on first use."""
    service = _start(PostgresService, 1)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def rgw() -> Iterator[RgwService]:
    """The session's Ceph RGW, started on first use (about 20 s)."""
    service = _start(RgwService, RGW_PORTS)
    yield service
    service.stop()


@pytest.fixture
def catalog_url(postgres: PostgresService) -> str:
    """A PostgreSQL catalog URL of this test's own (a fresh schema)."""
    return postgres.catalog_url()


@pytest.fixture
def s3_env(rgw: RgwService, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The gateway's AWS variables, set in this process (and its children) for the test."""
    for name, value in rgw.env.items():
        monkeypatch.setenv(name, value)
    return rgw.env


@pytest.fixture
def s3_store(rgw: RgwService, s3_env: dict[str, str]) -> str:
    """An ``s3://`` store location of this test's own, with the AWS variables set."""
    return rgw.store_url()
