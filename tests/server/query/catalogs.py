"""Catalog backends for the pushdown tests: an SQLite file, or a fresh PostgreSQL database.

TEMPORARY (one place to swap): the PostgreSQL databases are made here, on the lead's dev
server, until the shared backend parametrisation (``tests/backends.py``) lands. Each uses
ICU's en-US collation, which orders text unlike Python does (``B`` after ``a``, ``-`` nearly
ignored), so SQL that leaned on text order would give other answers than the Python path.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

BACKENDS = ["sqlite", "postgres"]
DEV_SERVER = "postgresql://postgres@127.0.0.1:17532"


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URI of a new, empty database (linguistic collation), dropped afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(f"{DEV_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
        try:
            yield f"{DEV_SERVER}/{name}"
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def catalog_location(backend: str, folder: Path) -> Iterator[str]:
    """Where a store's catalog lives for ``backend``: a file in ``folder`` or a database."""
    if backend == "sqlite":
        yield str(folder / "catalog.sqlite3")
    else:
        with postgres_database() as uri:
            yield uri
