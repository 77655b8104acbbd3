"""The catalog: the durable record of sequences, sessions, topics, chunks (+ column
statistics) and notifications, and the transactions that change it.

SQLite in the store folder, WAL mode, one connection guarded by a lock that is held only for
short transactions (never while streaming). A durable catalog (the default) commits with
``synchronous=FULL``: a transaction is on stable storage when its method returns; without
durability (``synchronous=NORMAL``) the last commits survive a process crash but may be lost
on a power loss. A full disk is raised as ``OutOfSpace`` (UNAVAILABLE). The SQL sticks to the portable subset (text UUID
keys generated here, BIGINT, ON DELETE CASCADE, no upserts) so PostgreSQL can follow. Rows
come back as frozen values (``TopicRow``, ``ChunkRow``, ...) that the rest of the server
shares; refusals are ``ProtocolError`` values with the message the client sees.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa

from mosaico.protocol.errors import (
    AlreadyExists,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
)
from mosaico.server.disk_space import OutOfSpace, disk_full_reason
from mosaico.server.migrations import migrate

# Topic upload states.
CREATED = "created"
UPLOADING = "uploading"
UPLOADED = "uploaded"
FAILED = "failed"


class _Clock:
    """Wall-clock ns, strictly increasing within the process so creation order is total."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns())
            return self._last


clock = _Clock()


@attrs.frozen
class SequenceRow:
    """One sequence: its UUID, its unique name and its creation time (ns since the Unix
    epoch). Its user metadata is read apart (``Catalog.sequence_metadata``): rows are read
    far more often than their metadata is looked into, and one document may be tens of MB."""

    id: str
    name: str
    created_at_ns: int


class _Finalizable:
    """A session, or a topic through its session: locked once the session is finalized."""

    __slots__ = ()
    completed_at_ns: int | None

    @property
    def locked(self) -> bool:
        """True once the session is finalized: no new topics, no uploads (spec §4.4)."""
        return self.completed_at_ns is not None


@attrs.frozen
class SessionRow(_Finalizable):
    """One session of a sequence. ``sequence`` is the sequence's name, ``ident`` the session
    identifier (a ULID); ``completed_at_ns`` is None while the session is pending."""

    id: str
    sequence_id: str
    sequence: str
    ident: str
    created_at_ns: int
    completed_at_ns: int | None

    @property
    def locator(self) -> str:
        """The session locator ``<sequence>:<ident>`` (spec §3.3)."""
        return f"{self.sequence}:{self.ident}"


@attrs.frozen
class TopicRow(_Finalizable):
    """One topic: its sequence (``sequence`` is the name), its session, its ``path`` (without
    the leading ``/``), its type (``ontology_tag``, ``serialization_format``) and its upload
    ``state``: ``created``, ``uploading``, ``uploaded`` or ``failed``. Its user metadata is
    read apart (``Catalog.topic_metadata``), as a sequence's is.
    """

    id: str
    sequence_id: str
    sequence: str
    session_id: str
    path: str
    ontology_tag: str
    serialization_format: str
    created_at_ns: int
    state: str
    arrow_schema: bytes | None  # IPC-serialized, stored when the upload claims the topic
    completed_at_ns: int | None  # of its session

    @property
    def locator(self) -> str:
        """The topic locator ``<sequence>/<path>``, as messages and logs name the topic."""
        return f"{self.sequence}/{self.path}"

    def schema(self) -> pa.Schema:
        """The topic's Arrow schema; empty until an upload has claimed the topic."""
        if self.arrow_schema is None:
            return pa.schema([])
        return pa.ipc.read_schema(pa.py_buffer(self.arrow_schema))


@attrs.frozen
class ChunkRow:
    """One committed chunk file of a topic.

    ``ordinal`` orders the chunks of the topic's upload (from 0); ``path`` is relative to the
    store root; ``file_bytes`` is the Parquet file's size, ``arrow_bytes`` the rows' size in
    memory (what read sizing uses); ``min_ts`` and ``max_ts`` bound its ``timestamp_ns``
    values, both inclusive.
    """

    id: str
    topic_id: str
    ordinal: int
    path: str
    row_count: int
    file_bytes: int
    arrow_bytes: int
    min_ts: int
    max_ts: int


@attrs.frozen
class ColumnStats:
    """min/max of one leaf column of one chunk; ``kind`` is int, real, text or bool."""

    column_path: str
    kind: str
    null_count: int | None
    min_value: int | float | str | None
    max_value: int | float | str | None


@attrs.frozen
class TopicTotals:
    """Sums over the chunks of one topic; the ``timestamp_ns`` range is None without chunks."""

    row_count: int = 0
    file_bytes: int = 0
    arrow_bytes: int = 0
    chunk_count: int = 0
    min_ts: int | None = None
    max_ts: int | None = None


@attrs.frozen
class NotificationRow:
    """One stored notification; ``topic_path`` is None for a sequence-level notification and
    ``created_at_ns`` is its creation time (ns since the Unix epoch)."""

    sequence: str
    topic_path: str | None
    notification_type: str
    msg: str
    created_at_ns: int


_TOPIC_SELECT = """
SELECT t.id, t.sequence_id, q.name, t.session_id, t.path, t.ontology_tag,
       t.serialization_format, t.created_at_ns, t.state, t.arrow_schema,
       s.completed_at_ns
FROM topics t JOIN sequences q ON q.id = t.sequence_id JOIN sessions s ON s.id = t.session_id
"""
_SESSION_SELECT = """
SELECT s.id, s.sequence_id, q.name, s.ident, s.created_at_ns, s.completed_at_ns
FROM sessions s JOIN sequences q ON q.id = s.sequence_id
"""
_CHUNK_COLUMNS = "id, topic_id, ordinal, path, row_count, file_bytes, arrow_bytes, min_ts, max_ts"


def _topic(row: tuple[Any, ...]) -> TopicRow:
    return TopicRow(*row)


def _stat_columns(stat: ColumnStats) -> tuple[Any, ...]:
    slots: dict[str, Any] = {"int": None, "real": None, "text": None}
    mins, maxs = dict(slots), dict(slots)
    column = {"bool": "int"}.get(stat.kind, stat.kind)
    mins[column], maxs[column] = stat.min_value, stat.max_value
    return (
        mins["int"], maxs["int"], mins["real"], maxs["real"], mins["text"], maxs["text"],
    )  # fmt: skip


def _connect(path: str, create: bool) -> sqlite3.Connection:
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


def _insert_notification(
    cur: sqlite3.Cursor, sequence_id: str, topic_id: str | None, notification_type: str, msg: str
) -> None:
    cur.execute(
        "INSERT INTO notifications (id, sequence_id, topic_id, notification_type, msg, "
        "created_at_ns) VALUES (?,?,?,?,?,?)",
        (str(uuid.uuid4()), sequence_id, topic_id, notification_type, msg, clock.now()),
    )


def _rollback_quietly(db: sqlite3.Connection) -> None:
    """End the transaction a failed statement or COMMIT left open, if any."""
    if db.in_transaction:
        with suppress(sqlite3.Error):
            db.execute("ROLLBACK")


class Catalog:
    """All catalog reads and writes; each public method is one short transaction."""

    def __init__(self, path: str, create: bool = True, *, durable: bool = True) -> None:
        """Open the catalog database at ``path``; with ``create`` a missing one is made.
        With ``durable`` every commit is synced to stable storage before it returns.

        Raises:
            FileNotFoundError: ``create`` is false and ``path`` holds no catalog (no file,
                or a database without the catalog's tables); nothing was written.
            sqlite3.Error: the database cannot be opened or is not a database.
        """
        self._lock = threading.Lock()
        self._db = _connect(path, create)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._tx() as cur:
            self.schema_version = migrate(cur, time.time_ns())

    def close(self) -> None:
        """Close the SQLite connection; the catalog cannot be used afterwards."""
        with self._lock:
            self._db.close()

    @property
    def synchronous(self) -> str:
        """SQLite's ``synchronous`` setting of the connection: ``FULL`` or ``NORMAL``."""
        with self._lock:
            level = self._db.execute("PRAGMA synchronous").fetchone()[0]
        return {1: "NORMAL", 2: "FULL"}.get(level, str(level))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """One transaction; a full disk is raised as `OutOfSpace`, nothing committed."""
        with self._lock:
            cur = self._db.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                try:
                    yield cur
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

    def _select(self, query: str, args: Any = ()) -> list[Any]:
        """All rows of one read-only query, in a transaction of its own."""
        with self._tx() as cur:
            return cur.execute(query, args).fetchall()

    # -- sequences -----------------------------------------------------------------------

    def create_sequence(self, name: str, user_metadata: dict[str, Any]) -> SequenceRow:
        """Record a new sequence, without sessions yet.

        Raises:
            AlreadyExists: a sequence of that name exists.
        """
        row = SequenceRow(str(uuid.uuid4()), name, clock.now())
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM sequences WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"sequence {name!r} already exists")
            cur.execute(
                "INSERT INTO sequences (id, name, created_at_ns, user_metadata) VALUES (?,?,?,?)",
                (row.id, name, row.created_at_ns, json.dumps(user_metadata)),
            )
        return row

    def _sequence(self, cur: sqlite3.Cursor, name: str) -> SequenceRow:
        found = cur.execute(
            "SELECT id, name, created_at_ns FROM sequences WHERE name = ?", (name,)
        ).fetchone()
        if found is None:
            raise NotFound(f"sequence {name!r} does not exist")
        return SequenceRow(*found)

    def get_sequence(self, name: str) -> SequenceRow:
        """The sequence called ``name``.

        Raises:
            NotFound: no such sequence.
        """
        with self._tx() as cur:
            return self._sequence(cur, name)

    def list_sequences(self) -> list[SequenceRow]:
        """Every sequence, in creation order (ties by name)."""
        rows = self._select(
            "SELECT id, name, created_at_ns FROM sequences ORDER BY created_at_ns, name"
        )
        return [SequenceRow(*r) for r in rows]

    def _metadata(self, query: str, key: str, what: str) -> dict[str, Any]:
        found = self._select(query, (key,))
        if not found:
            raise NotFound(f"{what} does not exist")
        document: dict[str, Any] = json.loads(found[0][0])
        return document

    def sequence_metadata(self, sequence_id: str) -> dict[str, Any]:
        """The user metadata of a sequence, by its UUID, parsed from the stored JSON.

        Raises:
            NotFound: no such sequence (it was deleted since its row was read).
        """
        query = "SELECT user_metadata FROM sequences WHERE id = ?"
        return self._metadata(query, sequence_id, f"sequence {sequence_id}")

    def topic_metadata(self, topic_id: str) -> dict[str, Any]:
        """The user metadata of a topic, by its UUID, parsed from the stored JSON.

        Raises:
            NotFound: no such topic (it was deleted since its row was read).
        """
        return self._metadata("SELECT user_metadata FROM topics WHERE id = ?", topic_id,
                              f"topic {topic_id}")  # fmt: skip

    def _chunk_paths(self, cur: sqlite3.Cursor, where: str, args: tuple[Any, ...]) -> list[str]:
        query = f"SELECT c.path FROM chunks c JOIN topics t ON t.id = c.topic_id WHERE {where}"
        return [r[0] for r in cur.execute(query, args).fetchall()]

    def delete_sequence(self, name: str) -> tuple[list[str], list[str]]:
        """Remove a sequence; returns (topic ids, chunk paths) whose files must go."""
        with self._tx() as cur:
            seq = self._sequence(cur, name)
            topic_ids = [
                r[0] for r in cur.execute("SELECT id FROM topics WHERE sequence_id = ?", (seq.id,))
            ]
            paths = self._chunk_paths(cur, "t.sequence_id = ?", (seq.id,))
            cur.execute("DELETE FROM sequences WHERE id = ?", (seq.id,))
        return topic_ids, paths

    # -- sessions ------------------------------------------------------------------------

    def create_session(self, sequence: str, ident: str) -> SessionRow:
        """Open a pending session on ``sequence``, identified by ``ident`` (a ULID).

        Raises:
            NotFound: no such sequence.
        """
        with self._tx() as cur:
            seq = self._sequence(cur, sequence)
            row = SessionRow(str(uuid.uuid4()), seq.id, seq.name, ident, clock.now(), None)
            cur.execute(
                "INSERT INTO sessions (id, sequence_id, ident, created_at_ns) VALUES (?,?,?,?)",
                (row.id, seq.id, ident, row.created_at_ns),
            )
        return row

    def _session(self, cur: sqlite3.Cursor, where: str, args: tuple[Any, ...]) -> SessionRow:
        found = cur.execute(f"{_SESSION_SELECT} WHERE {where}", args).fetchone()
        if found is None:
            raise NotFound(f"session {args[-1]!r} does not exist")
        return SessionRow(*found)

    def get_session(self, session_uuid: str) -> SessionRow:
        """The session whose UUID is ``session_uuid``.

        Raises:
            NotFound: no such session.
        """
        with self._tx() as cur:
            return self._session(cur, "s.id = ?", (session_uuid,))

    def sessions_of(self, sequence_id: str) -> list[SessionRow]:
        """The sessions of a sequence (given by its UUID), in creation order."""
        rows = self._select(
            f"{_SESSION_SELECT} WHERE s.sequence_id = ? ORDER BY s.created_at_ns", (sequence_id,)
        )
        return [SessionRow(*r) for r in rows]

    def finalize_session(self, session_uuid: str) -> SessionRow:
        """Lock a pending session and its topics (spec §5.4.5); returns the session with
        ``completed_at_ns`` set.

        Raises:
            NotFound: no such session.
            FailedPrecondition: the session is already finalized, or one of its topics is
                still uploading.
        """
        with self._tx() as cur:
            session = self._session(cur, "s.id = ?", (session_uuid,))
            if session.locked:
                raise FailedPrecondition(f"session {session.locator!r} is already finalized")
            busy = cur.execute(
                "SELECT path FROM topics WHERE session_id = ? AND state = ?",
                (session.id, UPLOADING),
            ).fetchall()
            if busy:
                names = ", ".join(repr(f"{session.sequence}/{r[0]}") for r in busy)
                raise FailedPrecondition(
                    f"session {session.locator!r} still has uploads in progress: {names}"
                )
            done = clock.now()
            cur.execute("UPDATE sessions SET completed_at_ns = ? WHERE id = ?", (done, session.id))
        return attrs.evolve(session, completed_at_ns=done)

    def delete_session(
        self, *, sequence: str | None = None, ident: str | None = None, uuid_: str | None = None
    ) -> tuple[SessionRow, list[str], list[str]]:
        """Remove a session by (sequence, ident) or by UUID; returns it, topic ids, chunk paths."""
        with self._tx() as cur:
            if uuid_ is not None:
                session = self._session(cur, "s.id = ?", (uuid_,))
            else:
                session = self._session(cur, "q.name = ? AND s.ident = ?", (sequence, ident))
            topic_ids = [
                r[0]
                for r in cur.execute("SELECT id FROM topics WHERE session_id = ?", (session.id,))
            ]
            paths = self._chunk_paths(cur, "t.session_id = ?", (session.id,))
            cur.execute("DELETE FROM sessions WHERE id = ?", (session.id,))
        return session, topic_ids, paths

    # -- topics --------------------------------------------------------------------------

    def create_topic(
        self,
        session_uuid: str,
        sequence: str,
        path: str,
        ontology_tag: str,
        serialization_format: str,
        user_metadata: dict[str, Any],
    ) -> TopicRow:
        """Record a new topic, in state ``created``, in a pending session.

        Args:
            session_uuid: the session the topic belongs to.
            sequence: the sequence name of the topic's locator; it must be the session's.
            path: the topic path, without the leading ``/``; unique within the sequence,
                across all its sessions.
            ontology_tag: the tag of the topic's type, stored as given.
            serialization_format: ``default``, ``ragged`` or ``image`` (``image`` topics are
                stored without Parquet compression).
            user_metadata: a JSON object, fixed at creation.

        Raises:
            NotFound: no such session.
            FailedPrecondition: the session is finalized.
            InvalidArgument: ``sequence`` is not the session's sequence.
            AlreadyExists: the sequence already has a topic at ``path``.
        """
        with self._tx() as cur:
            session = self._session(cur, "s.id = ?", (session_uuid,))
            if session.locked:
                raise FailedPrecondition(f"session {session.locator!r} is finalized")
            if session.sequence != sequence:
                raise InvalidArgument(
                    f"topic '{sequence}/{path}' is not in the session's sequence "
                    f"{session.sequence!r}"
                )
            if cur.execute(
                "SELECT 1 FROM topics WHERE sequence_id = ? AND path = ?",
                (session.sequence_id, path),
            ).fetchone():
                raise AlreadyExists(f"topic '{sequence}/{path}' already exists")
            row = TopicRow(
                str(uuid.uuid4()), session.sequence_id, sequence, session.id, path,
                ontology_tag, serialization_format, clock.now(), CREATED, None, None,
            )  # fmt: skip
            cur.execute(
                "INSERT INTO topics (id, sequence_id, session_id, path, ontology_tag, "
                "serialization_format, user_metadata, created_at_ns, state) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    row.id, row.sequence_id, row.session_id, path, ontology_tag,
                    serialization_format, json.dumps(user_metadata), row.created_at_ns, CREATED,
                ),
            )  # fmt: skip
        return row

    def _topic(self, cur: sqlite3.Cursor, sequence: str, path: str) -> TopicRow:
        found = cur.execute(f"{_TOPIC_SELECT} WHERE q.name = ? AND t.path = ?", (sequence, path))
        row = found.fetchone()
        if row is None:
            raise NotFound(f"topic '{sequence}/{path}' does not exist")
        return _topic(row)

    def get_topic(self, sequence: str, path: str) -> TopicRow:
        """The topic at ``<sequence>/<path>`` (``path`` without the leading ``/``).

        Raises:
            NotFound: no such topic.
        """
        with self._tx() as cur:
            return self._topic(cur, sequence, path)

    def topics_of(self, sequence_id: str) -> list[TopicRow]:
        """Topics of a sequence in session creation order, then topic creation order."""
        rows = self._select(
            f"{_TOPIC_SELECT} WHERE t.sequence_id = ? ORDER BY s.created_at_ns, t.created_at_ns",
            (sequence_id,),
        )
        return [_topic(r) for r in rows]

    def delete_topic(self, sequence: str, path: str) -> tuple[TopicRow, list[str]]:
        """Remove a topic with its chunk rows and notifications, whatever its session's state;
        returns the removed row and the chunk paths whose files must go.

        Raises:
            NotFound: no such topic.
        """
        with self._tx() as cur:
            topic = self._topic(cur, sequence, path)
            paths = self._chunk_paths(cur, "t.id = ?", (topic.id,))
            cur.execute("DELETE FROM topics WHERE id = ?", (topic.id,))
        return topic, paths

    def begin_upload(
        self, sequence: str, path: str, arrow_schema: bytes, check: Callable[[TopicRow], None]
    ) -> TopicRow:
        """Claim a topic for its one DoPut if ``check`` accepts it; returns the claimed row.

        ``check`` sees the topic as it is inside the claiming transaction and raises to refuse
        it; it must refuse a topic whose ``state`` is not ``CREATED`` (the update is
        conditional on that state too). Lookup, check and claim are one transaction (writers
        are serialized), so of two concurrent uploads of a topic the second sees it claimed
        and is refused by ``check``.

        Raises:
            NotFound: no such topic.
            ProtocolError: whatever ``check`` raises.
        """
        with self._tx() as cur:
            topic = self._topic(cur, sequence, path)
            check(topic)
            claimed = cur.execute(
                "UPDATE topics SET state = ?, arrow_schema = ? WHERE id = ? AND state = ?",
                (UPLOADING, arrow_schema, topic.id, CREATED),
            ).rowcount
            if claimed != 1:  # a check that let a claimed topic through: a server bug
                raise Internal(f"topic {topic.locator!r} was claimed in state {topic.state!r}")
        return attrs.evolve(topic, state=UPLOADING, arrow_schema=arrow_schema)

    def end_upload(self, topic_id: str, ok: bool) -> None:
        """Mark a claimed topic ``uploaded`` (``ok``) or ``failed``; a topic that is not
        ``uploading`` (deleted meanwhile, already ended) is left as it is."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE topics SET state = ? WHERE id = ? AND state = ?",
                (UPLOADED if ok else FAILED, topic_id, UPLOADING),
            )

    # -- chunks --------------------------------------------------------------------------

    def add_chunk(self, chunk: ChunkRow, stats: list[ColumnStats]) -> bool:
        """Record a chunk whose file is already in place; False if its topic is gone."""
        with self._tx() as cur:
            state = cur.execute("SELECT state FROM topics WHERE id = ?", (chunk.topic_id,))
            found = state.fetchone()
            if found is None or found[0] != UPLOADING:
                return False
            cur.execute(
                f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                attrs.astuple(chunk),
            )
            cur.executemany(
                "INSERT INTO chunk_stats (chunk_id, column_path, kind, null_count, min_int, "
                "max_int, min_real, max_real, min_text, max_text) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(chunk.id, s.column_path, s.kind, s.null_count, *_stat_columns(s)) for s in stats],
            )
        return True

    def has_topic(self, topic_id: str) -> bool:
        """Whether the topic of that UUID still exists."""
        return bool(self._select("SELECT 1 FROM topics WHERE id = ?", (topic_id,)))

    def chunks_of(self, topic_id: str) -> list[ChunkRow]:
        """The chunks of a topic (given by its UUID), in upload order (``ordinal``)."""
        rows = self._select(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE topic_id = ? ORDER BY ordinal", (topic_id,)
        )
        return [ChunkRow(*r) for r in rows]

    def chunk_stats(self, topic_id: str) -> dict[str, list[ColumnStats]]:
        """chunk id -> the column statistics of that chunk, for every chunk of a topic (one
        query: the query engine needs them for every chunk it may prune)."""
        rows = self._select(
            "SELECT s.chunk_id, s.column_path, s.kind, s.null_count, s.min_int, s.max_int, "
            "s.min_real, s.max_real, s.min_text, s.max_text FROM chunk_stats s "
            "JOIN chunks c ON c.id = s.chunk_id WHERE c.topic_id = ? "
            "ORDER BY s.chunk_id, s.column_path",
            (topic_id,),
        )
        out: dict[str, list[ColumnStats]] = {}
        for chunk_id, path, kind, nulls, mini, maxi, minr, maxr, mint, maxt in rows:
            lo, hi = {"int": (mini, maxi), "bool": (mini, maxi), "real": (minr, maxr)}.get(
                kind, (mint, maxt)
            )
            out.setdefault(chunk_id, []).append(ColumnStats(path, kind, nulls, lo, hi))
        return out

    def totals(self, topic_ids: list[str]) -> dict[str, TopicTotals]:
        """Topic UUID -> its chunk sums, in one query; a topic without chunks is absent
        (callers use ``TopicTotals()`` for it)."""
        if not topic_ids:
            return {}
        marks = ",".join("?" * len(topic_ids))
        rows = self._select(
            "SELECT topic_id, SUM(row_count), SUM(file_bytes), SUM(arrow_bytes), COUNT(*), "
            f"MIN(min_ts), MAX(max_ts) FROM chunks WHERE topic_id IN ({marks}) GROUP BY topic_id",
            topic_ids,
        )
        return {r[0]: TopicTotals(*r[1:]) for r in rows}

    def all_chunk_paths(self) -> set[str]:
        """The path of every recorded chunk (relative to the store root): what a sweep keeps."""
        return {r[0] for r in self._select("SELECT path FROM chunks")}

    def recover_interrupted_uploads(self, note: str) -> list[TopicRow]:
        """After a restart no upload is running: mark the ones that were as failed, each
        with an ``error`` notification saying ``note``, in one transaction (a recovery that
        fails, e.g. on a full disk, leaves them to the next start)."""
        with self._tx() as cur:
            rows = [
                _topic(r) for r in cur.execute(f"{_TOPIC_SELECT} WHERE t.state = ?", (UPLOADING,))
            ]
            cur.execute("UPDATE topics SET state = ? WHERE state = ?", (FAILED, UPLOADING))
            for topic in rows:
                _insert_notification(cur, topic.sequence_id, topic.id, "error", note)
        return rows

    # -- notifications -------------------------------------------------------------------

    def add_notification(
        self, sequence: str, topic_path: str | None, notification_type: str, msg: str
    ) -> None:
        """Store a notification on a sequence (``topic_path`` None) or on one of its topics.
        The type and message are stored as given (the protocol layer checked the type).

        Raises:
            NotFound: no such sequence or topic.
        """
        with self._tx() as cur:
            if topic_path is None:
                seq_id, topic_id = self._sequence(cur, sequence).id, None
            else:
                topic = self._topic(cur, sequence, topic_path)
                seq_id, topic_id = topic.sequence_id, topic.id
            _insert_notification(cur, seq_id, topic_id, notification_type, msg)

    def _notification_target(
        self, cur: sqlite3.Cursor, sequence: str, topic_path: str | None
    ) -> tuple[str, Any]:
        if topic_path is None:
            return "n.sequence_id = ? AND n.topic_id IS NULL", self._sequence(cur, sequence).id
        return "n.topic_id = ?", self._topic(cur, sequence, topic_path).id

    def list_notifications(self, sequence: str, topic_path: str | None) -> list[NotificationRow]:
        """The notifications of one resource (not those of its topics), oldest first.

        Raises:
            NotFound: no such sequence or topic.
        """
        with self._tx() as cur:
            where, key = self._notification_target(cur, sequence, topic_path)
            rows = cur.execute(
                "SELECT n.notification_type, n.msg, n.created_at_ns FROM notifications n "
                f"WHERE {where} ORDER BY n.created_at_ns",
                (key,),
            ).fetchall()
        return [NotificationRow(sequence, topic_path, *r) for r in rows]

    def purge_notifications(self, sequence: str, topic_path: str | None) -> int:
        """Delete the notifications of one resource (not those of its topics); returns how
        many were deleted.

        Raises:
            NotFound: no such sequence or topic.
        """
        with self._tx() as cur:
            where, key = self._notification_target(cur, sequence, topic_path)
            ids = [
                r[0] for r in cur.execute(f"SELECT n.id FROM notifications n WHERE {where}", (key,))
            ]
            cur.executemany("DELETE FROM notifications WHERE id = ?", [(i,) for i in ids])
        return len(ids)
