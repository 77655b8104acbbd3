"""The scale-out stack for benchmarks: PostgreSQL and a Ceph RGW started through
``deploy/`` (the same scripts and service classes the tests use), for one run."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.scale.services import (  # noqa: E402 - after the path is set
    PostgresService,
    RgwService,
    free_port_block,
)


@contextmanager
def services() -> Iterator[tuple[PostgresService, RgwService]]:
    """A running PostgreSQL and Ceph RGW, stopped and removed at the end; the RGW's AWS
    variables are set in this process (and so in its children)."""
    postgres = PostgresService(free_port_block(1))
    rgw = RgwService(free_port_block(10, taken={postgres.port}))
    try:
        postgres.start()
        rgw.start()
        os.environ.update(rgw.env)
        yield postgres, rgw
    finally:
        rgw.stop()
        postgres.stop()


@contextmanager
def scale_stack() -> Iterator[tuple[str, str]]:
    """(store URL, catalog URL) of a fresh store on a running stack."""
    with services() as (postgres, rgw):
        yield rgw.store_url(), postgres.catalog_url()
