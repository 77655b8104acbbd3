"""Catalog backends for the pushdown tests: an SQLite file, or a PostgreSQL database on the
session's server (``tests/scale/services.py``).

The PostgreSQL databases use ICU's en-US collation, which orders text unlike Python does
(``B`` after ``a``, ``-`` all but ignored): SQL that leaned on text order would give other
answers than the Python path there. (The session's own catalogs, ``catalog_url``, are
schemas of a ``C``-collated database, where text order is byte order and such a mistake
would not show.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.scale.services import PostgresService

BACKENDS = ["sqlite", "postgres"]


@contextmanager
def icu_database(server: PostgresService) -> Iterator[str]:
    """The URI of a new, empty database of ``server`` (linguistic collation), dropped
    afterwards."""
    name = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu "
            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
        try:
            yield urlunsplit(urlsplit(server.url)._replace(path=f"/{name}"))
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def catalog_location(backend: str, folder: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Where a store's catalog lives for ``backend``: a file in ``folder``, or a database of
    the session's PostgreSQL server (started on first use)."""
    if backend == "sqlite":
        yield str(folder / "catalog.sqlite3")
    else:
        with icu_database(request.getfixturevalue("postgres")) as uri:
            yield uri
