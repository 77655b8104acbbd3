"""The scale-out stack for benchmarks: PostgreSQL and a Ceph RGW started through
``deploy/`` (the same scripts and service classes the tests use), for one run."""

from __future__ import annotations

import os
import sys
import time
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
def gateway(taken: frozenset[int] = frozenset()) -> Iterator[RgwService]:
    """A running Ceph RGW (ports not in ``taken``), stopped and removed at the end; its AWS
    variables are set in this process (and so in its children)."""
    rgw = RgwService(free_port_block(10, taken=set(taken)))
    try:
        started = time.perf_counter()
        rgw.start()
        print(f"(RGW ready in {time.perf_counter() - started:.1f} s)")
        os.environ.update(rgw.env)
        yield rgw
    finally:
        rgw.stop()


@contextmanager
def services() -> Iterator[tuple[PostgresService, RgwService]]:
    """A running PostgreSQL and Ceph RGW (see ``gateway``), stopped and removed at the end."""
    postgres = PostgresService(free_port_block(1))
    try:
        postgres.start()
        with gateway(frozenset({postgres.port})) as rgw:
            yield postgres, rgw
    finally:
        postgres.stop()


@contextmanager
def scale_stack() -> Iterator[tuple[str, str]]:
    """(store URL, catalog URL) of a fresh store on a running stack."""
    with services() as (postgres, rgw):
        yield rgw.store_url(), postgres.catalog_url()
