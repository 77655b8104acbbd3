"""The catalog: the durable record of sequences, sessions, topics, chunks (+ column
statistics) and notifications, and the transactions that change it.

One implementation over SQLite (a file in the store folder, the embedded default) or
PostgreSQL (several servers sharing one catalog); what differs between the two is in
``catalog_db``. The SQL sticks to the portable subset (text UUID keys generated here,
BIGINT, ON DELETE CASCADE, no upserts). A durable catalog commits to stable storage before
a method returns. A full disk is raised as ``OutOfSpace`` (UNAVAILABLE), an unreachable
database as ``Unavailable``. Rows come back as frozen values (``TopicRow``, ``ChunkRow``,
...) that the rest of the server shares; refusals are ``ProtocolError`` values with the
message the client sees.

Several servers: each server records a heartbeat (``heartbeat``); the uploads it streams
carry its id; a chunk file is noted as a *loose file* before it is written and until its
chunk row commits, and chunk files of deleted rows are noted until they are deleted.
``recover`` hands what a dead server left (its uploads, its loose files) to a live one, so
nothing ever lists the store to find orphans.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
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
from mosaico.server.catalog_db import Cursor, Database, IntegrityError, open_database
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
class Recovery:
    """What recovery took over from dead servers: the uploads it marked failed and the
    loose files (chunk files without a chunk row) to delete, relative to the store root."""

    failed_uploads: list[TopicRow]
    loose_files: list[str]


@attrs.frozen
class NotificationRow:
    """One stored notification; ``topic_path`` is None for a sequence-level notification and
    ``created_at_ns`` is its creation time (ns since the Unix epoch)."""

    sequence: str
    topic_path: str | None
    notification_type: str
    msg: str
    created_at_ns: int


@attrs.frozen
class Sql:
    """A condition in the catalog's portable SQL (``?`` placeholders) and its arguments, as
    the query engine's pushdown writes them (``server/query/pushdown.py``), over the table
    aliases documented by the method that takes it."""

    text: str
    args: tuple[Any, ...] = ()


@attrs.frozen
class CandidateChunk:
    """A chunk ``Catalog.chunk_candidates`` did not rule out: its row, the statistics asked
    for by leaf path, and its ``position`` among all the chunks of its topic in upload
    order (from 0; the positions it skips are chunks ruled out)."""

    row: ChunkRow
    stats: dict[str, ColumnStats]
    position: int


@attrs.frozen
class ChunkCandidates:
    """The chunks of one topic that ``Catalog.chunk_candidates`` did not rule out, in upload
    order, and how many chunks the topic has in all."""

    chunks: list[CandidateChunk]
    total: int


_TOPIC_COLUMNS = """
t.id, t.sequence_id, q.name, t.session_id, t.path, t.ontology_tag, t.serialization_format,
t.created_at_ns, t.state, t.arrow_schema, s.completed_at_ns
"""
_TOPIC_FROM = """
FROM topics t JOIN sequences q ON q.id = t.sequence_id JOIN sessions s ON s.id = t.session_id
"""
_TOPIC_SELECT = f"SELECT {_TOPIC_COLUMNS} {_TOPIC_FROM}"
_SESSION_SELECT = """
SELECT s.id, s.sequence_id, q.name, s.ident, s.created_at_ns, s.completed_at_ns
FROM sessions s JOIN sequences q ON q.id = s.sequence_id
"""
_CHUNK_COLUMNS = "id, topic_id, ordinal, path, row_count, file_bytes, arrow_bytes, min_ts, max_ts"
_STATS_COLUMNS = (
    "{0}.column_path, {0}.kind, {0}.null_count, {0}.min_int, {0}.max_int, {0}.min_real, "
    "{0}.max_real, {0}.min_text, {0}.max_text"
)
_STATS_WIDTH = 9
_MAX_STATS_PATHS = 64  # more leaves asked for: every statistic of the chunks is returned
_IDS_PER_STATEMENT = 500  # of an IN list


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


def _column_stats(row: tuple[Any, ...]) -> ColumnStats:
    """The ``ColumnStats`` of one ``chunk_stats`` row (``_STATS_COLUMNS``)."""
    path, kind, nulls, mini, maxi, minr, maxr, mint, maxt = row
    lo, hi = {"int": (mini, maxi), "bool": (mini, maxi), "real": (minr, maxr)}.get(
        kind, (mint, maxt)
    )
    return ColumnStats(path, kind, nulls, lo, hi)


def _insert_notification(
    cur: Cursor, sequence_id: str, topic_id: str | None, notification_type: str, msg: str
) -> None:
    cur.execute(
        "INSERT INTO notifications (id, sequence_id, topic_id, notification_type, msg, "
        "created_at_ns) VALUES (?,?,?,?,?,?)",
        (str(uuid.uuid4()), sequence_id, topic_id, notification_type, msg, clock.now()),
    )


def _marks(values: list[Any]) -> str:
    """``?,?,...``: one placeholder per value of an ``IN (...)`` list."""
    return ",".join("?" * len(values))


def _chunk_candidates(
    topic_ids: list[str], rows: list[Any], totals: dict[str, int]
) -> dict[str, ChunkCandidates]:
    """Group the rows of ``Catalog.chunk_candidates`` (a chunk, its position, then one of its
    statistics or NULLs) by topic and chunk."""
    out = {topic_id: ChunkCandidates([], totals.get(topic_id, 0)) for topic_id in topic_ids}
    last: CandidateChunk | None = None
    for row in rows:
        if last is None or last.row.id != row[0]:
            last = CandidateChunk(ChunkRow(*row[: -_STATS_WIDTH - 1]), {}, row[-_STATS_WIDTH - 1])
            out[last.row.topic_id].chunks.append(last)
        if row[-_STATS_WIDTH] is not None:
            stats = _column_stats(row[-_STATS_WIDTH:])
            last.stats[stats.column_path] = stats
    return out


class Catalog:
    """All catalog reads and writes; each public method is one short transaction.

    Safe for several servers over one shared database: each decision that depends on a row
    (may this topic be claimed, may this session be finalized) locks that row first
    (``Database.lock``), and unique constraints settle creation races, so two servers racing
    leave exactly one winner.
    """

    def __init__(self, location: str, create: bool = True, *, durable: bool = True) -> None:
        """Open the catalog at ``location`` (an SQLite file path or a PostgreSQL URI); with
        ``create`` a missing SQLite file is made. With ``durable`` every commit is on stable
        storage when it returns. Migrates the schema to the latest version.

        Raises:
            FileNotFoundError: ``create`` is false and the SQLite file holds no catalog (no
                file, or a database without the catalog's tables); nothing was written.
            Unavailable: the PostgreSQL server cannot be reached.
            CatalogVersionError: the catalog was written by a newer mosaico.
            sqlite3.Error: the file cannot be opened or is not a database.
        """
        self._db = open_database(location, create=create, durable=durable)
        try:
            with self._db.transaction() as cur:
                self.schema_version = migrate(self._db, cur, time.time_ns())
        except BaseException:
            self._db.close()
            raise

    @property
    def shared(self) -> bool:
        """Whether other servers may use this catalog at the same time (PostgreSQL)."""
        return self._db.shared

    @property
    def database(self) -> Database:
        """The database behind the catalog (its dialect, its description)."""
        return self._db

    def close(self) -> None:
        """Close the database connections; the catalog cannot be used afterwards."""
        self._db.close()

    def _tx(self) -> AbstractContextManager[Cursor]:
        return self._db.transaction()

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
        taken = AlreadyExists(f"sequence {name!r} already exists")
        with self._tx() as cur:
            if cur.execute("SELECT 1 FROM sequences WHERE name = ?", (name,)).fetchone():
                raise taken
            try:
                cur.execute(
                    "INSERT INTO sequences (id, name, created_at_ns, user_metadata) "
                    "VALUES (?,?,?,?)",
                    (row.id, name, row.created_at_ns, json.dumps(user_metadata)),
                )
            except IntegrityError:  # created by another server since the check
                raise taken from None
        return row

    def _sequence(self, cur: Cursor, name: str, lock: bool = False) -> SequenceRow:
        suffix = self._db.lock("sequences") if lock else ""
        found = cur.execute(
            f"SELECT id, name, created_at_ns FROM sequences WHERE name = ?{suffix}", (name,)
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

    def _documents(self, table: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        rows: list[Any] = []
        with self._tx() as cur:
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                part = ids[start : start + _IDS_PER_STATEMENT]
                rows += cur.execute(
                    f"SELECT id, user_metadata FROM {table} WHERE id IN ({_marks(part)})", part
                ).fetchall()
        return {key: json.loads(text) for key, text in rows}

    def sequences_metadata(self, sequence_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Sequence UUID -> its user metadata, parsed, for many sequences in one transaction
        (a sequence deleted meanwhile is absent)."""
        return self._documents("sequences", sequence_ids)

    def topics_metadata(self, topic_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Topic UUID -> its user metadata, parsed, for many topics in one transaction (a
        topic deleted meanwhile is absent)."""
        return self._documents("topics", topic_ids)

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

    def _drop(self, cur: Cursor, owner: str, where: str, key: str) -> tuple[list[str], list[str]]:
        """Before deleting rows: (topic ids, chunk paths) under ``where``, the paths noted as
        loose files of ``owner`` so that a crash before they are deleted leaves them to
        recovery, not orphaned."""
        found = cur.execute(f"SELECT t.id FROM topics t WHERE {where}", (key,)).fetchall()
        topic_ids = [r[0] for r in found]
        query = f"SELECT c.path FROM chunks c JOIN topics t ON t.id = c.topic_id WHERE {where}"
        paths = [r[0] for r in cur.execute(query, (key,)).fetchall()]
        self._note_loose(cur, paths, owner)
        return topic_ids, paths

    def delete_sequence(self, name: str, owner: str) -> tuple[list[str], list[str]]:
        """Remove a sequence; returns (topic ids, chunk paths) whose files must go. The
        paths become loose files of ``owner`` until ``forget_loose``.

        Raises:
            NotFound: no such sequence.
        """
        with self._tx() as cur:
            seq = self._sequence(cur, name, lock=True)
            dropped = self._drop(cur, owner, "t.sequence_id = ?", seq.id)
            cur.execute("DELETE FROM sequences WHERE id = ?", (seq.id,))
        return dropped

    # -- sessions ------------------------------------------------------------------------

    def create_session(self, sequence: str, ident: str) -> SessionRow:
        """Open a pending session on ``sequence``, identified by ``ident`` (a ULID).

        Raises:
            NotFound: no such sequence.
        """
        with self._tx() as cur:
            seq = self._sequence(cur, sequence, lock=True)  # not deleted before the insert
            row = SessionRow(str(uuid.uuid4()), seq.id, seq.name, ident, clock.now(), None)
            cur.execute(
                "INSERT INTO sessions (id, sequence_id, ident, created_at_ns) VALUES (?,?,?,?)",
                (row.id, seq.id, ident, row.created_at_ns),
            )
        return row

    def _session(
        self, cur: Cursor, where: str, args: tuple[Any, ...], lock: bool = False
    ) -> SessionRow:
        suffix = self._db.lock("s") if lock else ""
        found = cur.execute(f"{_SESSION_SELECT} WHERE {where}{suffix}", args).fetchone()
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
            session = self._session(cur, "s.id = ?", (session_uuid,), lock=True)
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
        self, owner: str, *, sequence: str | None = None, ident: str | None = None,
        uuid_: str | None = None,
    ) -> tuple[SessionRow, list[str], list[str]]:  # fmt: skip
        """Remove a session by (sequence, ident) or by UUID; returns it, topic ids, chunk
        paths (loose files of ``owner`` until ``forget_loose``).

        Raises:
            NotFound: no such session.
        """
        with self._tx() as cur:
            if uuid_ is not None:
                session = self._session(cur, "s.id = ?", (uuid_,), lock=True)
            else:
                where, args = "q.name = ? AND s.ident = ?", (sequence, ident)
                session = self._session(cur, where, args, lock=True)
            topic_ids, paths = self._drop(cur, owner, "t.session_id = ?", session.id)
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
        taken = AlreadyExists(f"topic '{sequence}/{path}' already exists")
        with self._tx() as cur:
            session = self._session(cur, "s.id = ?", (session_uuid,), lock=True)
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
                raise taken
            row = TopicRow(
                str(uuid.uuid4()), session.sequence_id, sequence, session.id, path,
                ontology_tag, serialization_format, clock.now(), CREATED, None, None,
            )  # fmt: skip
            try:
                cur.execute(
                    "INSERT INTO topics (id, sequence_id, session_id, path, ontology_tag, "
                    "serialization_format, user_metadata, created_at_ns, state) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        row.id, row.sequence_id, row.session_id, path, ontology_tag,
                        serialization_format, json.dumps(user_metadata), row.created_at_ns,
                        CREATED,
                    ),
                )  # fmt: skip
            except IntegrityError:  # created in another session by another server
                raise taken from None
        return row

    def _topic(self, cur: Cursor, sequence: str, path: str, lock: bool = False) -> TopicRow:
        suffix = self._db.lock("t", "s") if lock else ""
        found = cur.execute(
            f"{_TOPIC_SELECT} WHERE q.name = ? AND t.path = ?{suffix}", (sequence, path)
        )
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

    def query_topics(self, where: Sql) -> list[tuple[SequenceRow, TopicRow]]:
        """Every topic satisfying ``where`` (over ``t``, the topic, and ``q``, its sequence),
        with its sequence, in one query: sequences in creation order (ties by name), their
        topics in session creation order, then topic creation order."""
        rows = self._select(
            f"SELECT {_TOPIC_COLUMNS}, q.created_at_ns {_TOPIC_FROM} WHERE {where.text} "
            "ORDER BY q.created_at_ns, q.name, s.created_at_ns, t.created_at_ns",
            where.args,
        )
        sequences: dict[str, SequenceRow] = {}
        out = []
        for row in rows:
            topic = _topic(row[:-1])
            sequence = sequences.get(topic.sequence_id)
            if sequence is None:
                sequence = SequenceRow(topic.sequence_id, topic.sequence, row[-1])
                sequences[topic.sequence_id] = sequence
            out.append((sequence, topic))
        return out

    def tag_schemas(self, tags: list[str] | None) -> list[tuple[str, bytes]]:
        """The distinct (ontology tag, IPC-serialized Arrow schema) of the topics claimed by
        an upload, of the given tags (of every tag for None), in the order of the first
        topic created with each.

        Found by the schemas' digests through the (tag, digest) index, then one schema read
        per digest; topics claimed before digests were kept (schema version 2) are grouped
        by their schemas themselves.
        """
        if tags == []:
            return []
        where = "" if tags is None else f" AND ontology_tag IN ({_marks(tags)})"
        args = tags or ()
        with self._tx() as cur:
            digests = cur.execute(
                "SELECT ontology_tag, schema_digest, MIN(created_at_ns) FROM topics "
                f"WHERE schema_digest IS NOT NULL{where} GROUP BY ontology_tag, schema_digest",
                args,
            ).fetchall()
            found = []
            for tag, digest, first in digests:
                schema = cur.execute(
                    "SELECT arrow_schema FROM topics WHERE ontology_tag = ? AND schema_digest = ? "
                    "AND created_at_ns = ?", (tag, digest, first),
                ).fetchone()  # fmt: skip
                if schema is not None:  # None: deleted since (PostgreSQL's READ COMMITTED)
                    found.append((first, tag, schema[0]))
            found += cur.execute(
                "SELECT MIN(created_at_ns), ontology_tag, arrow_schema FROM topics WHERE "
                f"schema_digest IS NULL AND arrow_schema IS NOT NULL{where} "
                "GROUP BY ontology_tag, arrow_schema",
                args,
            ).fetchall()
        ordered = ((tag, bytes(schema)) for _, tag, schema in sorted(found, key=lambda f: f[0]))
        return list(dict.fromkeys(ordered))  # a schema held with and without a digest: once

    def topics_of(self, sequence_id: str) -> list[TopicRow]:
        """Topics of a sequence in session creation order, then topic creation order."""
        rows = self._select(
            f"{_TOPIC_SELECT} WHERE t.sequence_id = ? ORDER BY s.created_at_ns, t.created_at_ns",
            (sequence_id,),
        )
        return [_topic(r) for r in rows]

    def delete_topic(self, sequence: str, path: str, owner: str) -> tuple[TopicRow, list[str]]:
        """Remove a topic with its chunk rows and notifications, whatever its session's state;
        returns the removed row and the chunk paths whose files must go (loose files of
        ``owner`` until ``forget_loose``).

        Raises:
            NotFound: no such topic.
        """
        with self._tx() as cur:
            topic = self._topic(cur, sequence, path, lock=True)
            _, paths = self._drop(cur, owner, "t.id = ?", topic.id)
            cur.execute("DELETE FROM topics WHERE id = ?", (topic.id,))
        return topic, paths

    def begin_upload(
        self, sequence: str, path: str, arrow_schema: bytes, check: Callable[[TopicRow], None],
        owner: str,
    ) -> TopicRow:  # fmt: skip
        """Claim a topic for its one DoPut, streamed by server ``owner``, if ``check``
        accepts it; returns the claimed row.

        ``check`` sees the topic as it is inside the claiming transaction, with the topic
        and its session locked, and raises to refuse it; it must refuse a topic whose
        ``state`` is not ``CREATED`` (the update is conditional on that state too). Of two
        concurrent uploads of a topic, through one server or two, the second sees it
        claimed and is refused by ``check``.

        Raises:
            NotFound: no such topic.
            ProtocolError: whatever ``check`` raises.
        """
        with self._tx() as cur:
            topic = self._topic(cur, sequence, path, lock=True)
            check(topic)
            claimed = cur.execute(
                "UPDATE topics SET state = ?, arrow_schema = ?, schema_digest = ?, "
                "upload_owner = ? WHERE id = ? AND state = ?",
                (UPLOADING, arrow_schema, hashlib.sha256(arrow_schema).hexdigest(), owner,
                 topic.id, CREATED),
            ).rowcount  # fmt: skip
            if claimed != 1:  # a check that let a claimed topic through: a server bug
                raise Internal(f"topic {topic.locator!r} was claimed in state {topic.state!r}")
        return attrs.evolve(topic, state=UPLOADING, arrow_schema=arrow_schema)

    def end_upload(self, topic_id: str, ok: bool) -> None:
        """Mark a claimed topic ``uploaded`` (``ok``) or ``failed``; a topic that is not
        ``uploading`` (deleted meanwhile, already ended, recovered) is left as it is."""
        with self._tx() as cur:
            cur.execute(
                "UPDATE topics SET state = ? WHERE id = ? AND state = ?",
                (UPLOADED if ok else FAILED, topic_id, UPLOADING),
            )

    # -- chunks --------------------------------------------------------------------------

    def add_chunk(self, chunk: ChunkRow, stats: list[ColumnStats]) -> bool:
        """Record a chunk whose file is already in place, and forget it as a loose file;
        False if its topic is gone or no longer uploading (then nothing is recorded)."""
        with self._tx() as cur:
            found = cur.execute(
                f"SELECT t.state FROM topics t WHERE t.id = ?{self._db.lock('t')}",
                (chunk.topic_id,),
            ).fetchone()
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
            cur.execute("DELETE FROM loose_files WHERE path = ?", (chunk.path,))
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
            f"SELECT s.chunk_id, {_STATS_COLUMNS.format('s')} FROM chunk_stats s "
            "JOIN chunks c ON c.id = s.chunk_id WHERE c.topic_id = ? "
            "ORDER BY s.chunk_id, s.column_path",
            (topic_id,),
        )
        out: dict[str, list[ColumnStats]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(_column_stats(row[1:]))
        return out

    def chunk_candidates(
        self, topic_ids: list[str], paths: list[str], exclusions: list[tuple[str, Sql]]
    ) -> dict[str, ChunkCandidates]:
        """Topic UUID -> its chunks that no exclusion rules out, with the statistics of the
        leaves ``paths`` (all of them beyond ``_MAX_STATS_PATHS`` paths) and their positions
        among all the topic's chunks, in one query (and one that counts the chunks).

        An exclusion ``(path, condition)`` rules out a chunk whose statistics row of leaf
        ``path`` (alias ``x``, a ``chunk_stats`` row) satisfies ``condition``; a chunk without
        statistics for ``path`` is kept. The lookups go through the (chunk_id, column_path)
        key, the chunks through their (topic_id, min_ts) index.
        """
        if not topic_ids:
            return {}
        ids = _marks(topic_ids)
        only = f" AND s.column_path IN ({_marks(paths)})" if len(paths) <= _MAX_STATS_PATHS else ""
        where = "".join(
            " AND NOT EXISTS (SELECT 1 FROM chunk_stats x WHERE x.chunk_id = c.id AND "
            f"x.column_path = ? AND ({condition.text}))"
            for _, condition in exclusions
        )
        exclusion_args: list[Any] = []
        for path, condition in exclusions:
            exclusion_args += [path, *condition.args]
        columns = ", ".join(f"c.{column}" for column in _CHUNK_COLUMNS.split(", "))
        with self._tx() as cur:
            rows = cur.execute(
                f"SELECT {columns}, c.position, {_STATS_COLUMNS.format('s')} FROM (SELECT "
                f"{_CHUNK_COLUMNS}, ROW_NUMBER() OVER (PARTITION BY topic_id ORDER BY ordinal, "
                f"id) - 1 AS position FROM chunks WHERE topic_id IN ({ids})) c "
                f"LEFT JOIN chunk_stats s ON s.chunk_id = c.id{only} WHERE 1 = 1{where} "
                "ORDER BY c.topic_id, c.position",
                [*topic_ids, *(paths if only else ()), *exclusion_args],
            ).fetchall()
            totals = cur.execute(
                f"SELECT topic_id, COUNT(*) FROM chunks WHERE topic_id IN ({ids}) GROUP BY topic_id",
                topic_ids,
            ).fetchall()
        return _chunk_candidates(topic_ids, rows, dict(totals))

    def sequence_totals(self) -> dict[str, tuple[int, int]]:
        """Sequence name -> (rows, file bytes) summed over the chunks of its topics, in one
        query; a sequence without chunks is absent."""
        rows = self._select(
            "SELECT s.name, CAST(SUM(c.row_count) AS BIGINT), CAST(SUM(c.file_bytes) AS BIGINT) "
            "FROM chunks c JOIN topics t ON c.topic_id = t.id "
            "JOIN sequences s ON t.sequence_id = s.id GROUP BY s.name"
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def totals(self, topic_ids: list[str]) -> dict[str, TopicTotals]:
        """Topic UUID -> its chunk sums, in one query; a topic without chunks is absent
        (callers use ``TopicTotals()`` for it)."""
        if not topic_ids:
            return {}
        rows = self._select(
            "SELECT topic_id, CAST(SUM(row_count) AS BIGINT), CAST(SUM(file_bytes) AS BIGINT), "
            "CAST(SUM(arrow_bytes) AS BIGINT), COUNT(*), MIN(min_ts), MAX(max_ts) FROM chunks "
            f"WHERE topic_id IN ({_marks(topic_ids)}) GROUP BY topic_id",
            topic_ids,
        )
        return {r[0]: TopicTotals(*r[1:]) for r in rows}

    # -- servers, loose files, recovery -------------------------------------------------

    def _note_loose(self, cur: Cursor, paths: list[str], owner: str) -> None:
        now = time.time_ns()
        cur.executemany(
            "INSERT INTO loose_files (path, owner, noted_at_ns) VALUES (?,?,?)",
            [(path, owner, now) for path in paths],
        )

    def note_loose(self, path: str, owner: str) -> None:
        """Before a chunk file is written: note it as a loose file of server ``owner``, so
        that if the server dies before the chunk is recorded, recovery deletes the file."""
        with self._tx() as cur:
            self._note_loose(cur, [path], owner)

    def forget_loose(self, paths: list[str]) -> None:
        """The files at ``paths`` are gone (deleted, or never written): forget them."""
        if paths:
            with self._tx() as cur:
                cur.executemany("DELETE FROM loose_files WHERE path = ?", [(p,) for p in paths])

    def heartbeat(self, server_id: str, address: str) -> None:
        """Record that server ``server_id`` is alive now (registering it if needed)."""
        now = time.time_ns()
        with self._tx() as cur:
            updated = cur.execute(
                "UPDATE servers SET heartbeat_at_ns = ? WHERE id = ?", (now, server_id)
            ).rowcount
            if updated == 0:
                cur.execute(
                    "INSERT INTO servers (id, address, started_at_ns, heartbeat_at_ns) "
                    "VALUES (?,?,?,?)",
                    (server_id, address, now, now),
                )

    def retire(self, server_id: str) -> None:
        """A server stops cleanly: forget it (its uploads have ended)."""
        with self._tx() as cur:
            cur.execute("DELETE FROM servers WHERE id = ?", (server_id,))

    def recover(self, server_id: str, live_since_ns: int | None, note: str) -> Recovery:
        """Take over what dead servers left: their uploads are marked failed (each with an
        ``error`` notification saying ``note``) and their loose files returned, to be
        deleted and then forgotten (``forget_loose``).

        A server is alive if it is ``server_id`` or, with ``live_since_ns``, its last
        heartbeat is at or after it; ``live_since_ns`` None means no other server is
        alive (a store one process opens at a time). Uploads from before servers were
        recorded (no owner) count as dead. One transaction: a recovery that fails (a full
        disk) leaves everything to the next one.
        """
        since = 2**63 - 1 if live_since_ns is None else live_since_ns
        live = "(SELECT id FROM servers WHERE id = ? OR heartbeat_at_ns >= ?)"
        with self._tx() as cur:
            rows = [
                _topic(r)
                for r in cur.execute(
                    f"{_TOPIC_SELECT} WHERE t.state = ? AND (t.upload_owner IS NULL OR "
                    f"t.upload_owner NOT IN {live}){self._db.lock('t')}",
                    (UPLOADING, server_id, since),
                ).fetchall()
            ]
            cur.executemany(
                "UPDATE topics SET state = ? WHERE id = ? AND state = ?",
                [(FAILED, topic.id, UPLOADING) for topic in rows],
            )
            for topic in rows:
                _insert_notification(cur, topic.sequence_id, topic.id, "error", note)
            loose = [
                r[0]
                for r in cur.execute(
                    f"SELECT path FROM loose_files WHERE owner NOT IN {live}", (server_id, since)
                ).fetchall()
            ]
            cur.execute(
                "DELETE FROM servers WHERE id <> ? AND heartbeat_at_ns < ?", (server_id, since)
            )
        return Recovery(rows, loose)

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
                seq_id, topic_id = self._sequence(cur, sequence, lock=True).id, None
            else:
                topic = self._topic(cur, sequence, topic_path, lock=True)
                seq_id, topic_id = topic.sequence_id, topic.id
            _insert_notification(cur, seq_id, topic_id, notification_type, msg)

    def _notification_target(
        self, cur: Cursor, sequence: str, topic_path: str | None
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
                r[0]
                for r in cur.execute(
                    f"SELECT n.id FROM notifications n WHERE {where}", (key,)
                ).fetchall()
            ]
            cur.executemany("DELETE FROM notifications WHERE id = ?", [(i,) for i in ids])
        return len(ids)
