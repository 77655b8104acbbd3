"""The catalog's database connection: SQLite in a file or PostgreSQL, behind one small seam.

The catalog (``catalog``) writes its SQL once, with ``?`` placeholders and the portable
subset SQLite and PostgreSQL share. What differs lives here, in a ``Database``:

- how a transaction starts and ends (SQLite: one connection, ``BEGIN IMMEDIATE``, writers
  serialized by a lock; PostgreSQL: a connection pool, ``READ COMMITTED`` transactions that
  lock the rows they change, so several servers can share one catalog);
- placeholders (``?`` becomes ``%s`` for psycopg), column types in DDL (``{blob}``) and the
  index option that lets ``LIKE 'prefix%'`` use an index (``{like_ops}``);
- row locks (``FOR UPDATE OF ...`` on PostgreSQL, nothing on SQLite, whose writers are
  serialized already), and the advisory lock that keeps two servers from migrating at once;
- which errors mean a full disk (``OutOfSpace``), an unreachable database (``Unavailable``)
  or a constraint that refused a row (``IntegrityError``, which the catalog turns into the
  refusal the client sees).

``open_database`` picks the implementation from the catalog location: a
``postgresql://`` / ``postgres://`` URI (libpq syntax; ``PG*`` environment variables fill in
what it leaves out) or a file path.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from mosaico.protocol.errors import Unavailable
from mosaico.server.disk_space import OutOfSpace, disk_full_reason

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class IntegrityError(Exception):
    """A constraint refused a statement (a unique name taken, a parent row gone)."""


class Cursor:
    """What the catalog uses of a DB-API cursor: statements with ``?`` placeholders
    (rewritten by ``translate`` for the driver), constraint errors as ``IntegrityError``."""

    def __init__(
        self, cur: Any, integrity: type[Exception], translate: Callable[[str], str] = str
    ) -> None:
        self._cur = cur
        self._integrity = integrity
        self._translate = translate

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return int(self._cur.rowcount)

    def execute(self, query: str, args: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        try:
            self._cur.execute(self._translate(query), args)
        except self._integrity as exc:
            raise IntegrityError(str(exc).splitlines()[0]) from exc
        return self

    def executemany(self, query: str, args: Sequence[Sequence[Any]]) -> None:
        """Run one statement per row of ``args``."""
        try:
            self._cur.executemany(self._translate(query), args)
        except self._integrity as exc:
            raise IntegrityError(str(exc).splitlines()[0]) from exc

    def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        return list(self._cur.fetchall())


class Database(Protocol):
    """One catalog database: transactions, plus what its SQL dialect needs."""

    shared: bool
    """True when several servers may use the database at once (PostgreSQL)."""

    def transaction(self) -> AbstractContextManager[Cursor]:
        """One transaction: committed when the block ends, rolled back if it raises."""

    @property
    def synchronous(self) -> str:
        """How commits reach stable storage, in the database's own words (SQLite's
        ``synchronous``: ``FULL`` or ``NORMAL``; PostgreSQL's ``synchronous_commit``:
        ``on`` or ``off``)."""

    def lock(self, *tables: str) -> str:
        """The clause that locks the selected rows of ``tables`` (aliases) until commit."""

    def ddl(self, statement: str) -> str:
        """A DDL statement with its dialect's column types (``{blob}``) and LIKE index
        option (``{like_ops}``) filled in."""

    def lock_schema(self, cur: Cursor) -> None:
        """Keep other servers from migrating the schema until this transaction ends."""

    def describe(self) -> str:
        """The database for messages and logs (no password)."""

    def close(self) -> None:
        """Close every connection."""


def is_postgres(location: str) -> bool:
    """Whether a catalog location names a PostgreSQL database."""
    return location.startswith(POSTGRES_SCHEMES)


def open_database(location: str, *, create: bool = True, durable: bool = True) -> Database:
    """The catalog database at ``location``: a PostgreSQL URI or an SQLite file path.

    Raises:
        FileNotFoundError: ``create`` is false and there is no catalog: an SQLite file is
            missing (or holds no catalog), a PostgreSQL database (or the schema its URI
            names) holds no catalog tables; nothing was written.
        Unavailable: the PostgreSQL server cannot be reached.
        sqlite3.Error: the file is not a database.
    """
    if is_postgres(location):
        return PostgresDatabase(location, create=create, durable=durable)
    return SqliteDatabase(location, create=create, durable=durable)


# -- SQLite --------------------------------------------------------------------------------


def _connect_sqlite(path: str, create: bool) -> sqlite3.Connection:
    """SQLite connection to ``path``; without ``create`` it must already be a catalog.

    Without ``create`` the file is opened read-write but never created (``mode=rw``), so
    checking and opening are one step: nothing can create the file in between.
    """
    if create:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    uri = f"{Path(path).absolute().as_uri()}?mode=rw"
    try:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    except sqlite3.OperationalError:
        raise FileNotFoundError(f"{path} does not exist") from None
    try:
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sequences'"
        ).fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    if found is None:
        db.close()
        raise FileNotFoundError(f"{path} holds no catalog tables")
    return db


def _rollback_quietly(db: sqlite3.Connection) -> None:
    """End the transaction a failed statement or COMMIT left open, if any."""
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


class SqliteDatabase:
    """A catalog file: WAL mode, one connection guarded by a lock held only for short
    transactions. A durable catalog commits with ``synchronous=FULL`` (on stable storage
    when the commit returns); otherwise ``NORMAL`` (survives a process crash, maybe not a
    power loss). One process at a time: the store's folder lock sees to that."""

    shared = False

    def __init__(self, path: str, *, create: bool = True, durable: bool = True) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = _connect_sqlite(path, create)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA analysis_limit=1000")  # `close`'s ANALYZE: milliseconds

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One ``BEGIN IMMEDIATE`` transaction; a full disk is raised as `OutOfSpace`."""
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield Cursor(cur, sqlite3.IntegrityError)
                except BaseException:
                    _rollback_quietly(self._db)
                    raise
                cur.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                reason = disk_full_reason(exc)
                if reason is None:
                    raise
                _rollback_quietly(self._db)
                raise OutOfSpace(reason, "the catalog") from exc

    @property
    def synchronous(self) -> str:
        """SQLite's ``synchronous`` setting of the connection: ``FULL`` or ``NORMAL``."""
        with self._lock:
            level = self._db.execute("PRAGMA synchronous").fetchone()[0]
        return {1: "NORMAL", 2: "FULL"}.get(level, str(level))

    def lock(self, *tables: str) -> str:
        """Nothing: SQLite's writers are serialized by ``BEGIN IMMEDIATE``."""
        return ""

    def ddl(self, statement: str) -> str:
        """``{blob}`` is ``BLOB``; ``{like_ops}`` is ``COLLATE NOCASE`` (SQLite's ``LIKE``
        ignores ASCII case, so only a case-blind index serves its prefixes)."""
        return statement.replace("{blob}", "BLOB").replace("{like_ops}", "COLLATE NOCASE")

    def lock_schema(self, cur: Cursor) -> None:
        """Nothing: the transaction holds SQLite's write lock already."""

    def describe(self) -> str:
        """The catalog file's path."""
        return self.path

    def close(self) -> None:
        """Sample every table and index for the query planner (``ANALYZE``, bounded by
        ``analysis_limit``; best effort), then close the connection; the database cannot be
        used afterwards. Without statistics SQLite takes every table for a million rows and
        may scan the topics rather than use a sequence index; the next opening has them."""
        with self._lock:
            with suppress(sqlite3.Error):
                self._db.execute("ANALYZE")
            self._db.close()


# -- PostgreSQL ------------------------------------------------------------------------------


# Any constant: the key of the advisory lock migrations take (pg_advisory_xact_lock).
_MIGRATION_LOCK_KEY = 0x6D6F7361  # "mosa"


@functools.lru_cache(maxsize=512)
def _pyformat(query: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (the catalog's SQL holds no other ``?``/``%``)."""
    return query.replace("%", "%%").replace("?", "%s")


def _redacted(uri: str) -> str:
    """The URI without its password, for messages."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", uri)


def _commit_without_waiting(conn: Any) -> None:
    """A new pooled connection's commits return before the WAL reaches the disk (set per
    session, so the URI's own ``options`` are kept)."""
    conn.execute("SET synchronous_commit = off")
    conn.commit()


class PostgresDatabase:
    """A PostgreSQL catalog through psycopg 3 and a connection pool.

    Transactions run at ``READ COMMITTED``; the catalog locks the rows a decision depends on
    (``lock``) and leans on unique and foreign-key constraints, so servers racing on one
    catalog leave exactly one winner. With ``durable`` false commits do not wait for the
    WAL flush (``synchronous_commit=off``), the same trade as SQLite's ``NORMAL``. Without
    ``create`` the database must hold a catalog already (``FileNotFoundError`` otherwise).
    """

    shared = True

    def __init__(
        self, uri: str, *, create: bool = True, durable: bool = True, max_connections: int = 8
    ) -> None:
        try:
            import psycopg
            import psycopg_pool
        except ImportError:  # pragma: no cover - the scale extra is not installed
            raise Unavailable(
                "a PostgreSQL catalog needs psycopg: pip install 'mosaico-sdk[scale]'"
            ) from None
        self._psycopg = psycopg
        self._pool_timeout = psycopg_pool.PoolTimeout
        self.uri = uri
        self._pool = psycopg_pool.ConnectionPool(
            uri, min_size=1, max_size=max_connections, open=False, name="mosaico-catalog",
            configure=None if durable else _commit_without_waiting,
        )  # fmt: skip
        try:
            self._pool.open(wait=True, timeout=15)
        except psycopg_pool.PoolTimeout as exc:
            self._pool.close()
            raise Unavailable(f"the catalog database {self.describe()} cannot be reached") from exc
        if not create:
            self._require_catalog()

    def _require_catalog(self) -> None:
        """Raise ``FileNotFoundError`` (and close) when the database holds no catalog."""
        try:
            with self.transaction() as cur:
                found = cur.execute("SELECT to_regclass('sequences')").fetchone()[0]
        except BaseException:
            self.close()
            raise
        if found is None:
            self.close()
            raise FileNotFoundError(
                f"the catalog database {self.describe()} holds no mosaico catalog"
            )

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        """One transaction on a pooled connection; an unreachable database is raised as
        `Unavailable`, a full disk as `OutOfSpace`."""
        errors = self._psycopg.errors
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield Cursor(cur, self._psycopg.IntegrityError, _pyformat)
        except errors.DiskFull as exc:
            raise OutOfSpace("the catalog database's disk is full", "the catalog") from exc
        except (self._psycopg.OperationalError, self._pool_timeout) as exc:
            raise Unavailable(f"the catalog database {self.describe()} is unavailable") from exc

    @property
    def synchronous(self) -> str:
        """PostgreSQL's ``synchronous_commit`` of the catalog's connections: ``on`` or
        ``off``."""
        with self.transaction() as cur:
            return str(cur.execute("SHOW synchronous_commit").fetchone()[0])

    def lock(self, *tables: str) -> str:
        """``FOR UPDATE OF`` the given table aliases."""
        return f" FOR UPDATE OF {', '.join(tables)}"

    def ddl(self, statement: str) -> str:
        """``{blob}`` is ``BYTEA``; ``{like_ops}`` is ``text_pattern_ops`` (an index that
        serves ``LIKE`` prefixes whatever the database's collation)."""
        return statement.replace("{blob}", "BYTEA").replace("{like_ops}", "text_pattern_ops")

    def lock_schema(self, cur: Cursor) -> None:
        """A transaction-scoped advisory lock: servers starting together migrate in turn."""
        cur.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK_KEY,))

    def describe(self) -> str:
        """The URI without its password."""
        return _redacted(self.uri)

    def close(self) -> None:
        """Close the pool and its connections."""
        self._pool.close()
