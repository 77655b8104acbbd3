"""The catalog's schema, versioned from the first: numbered migrations applied in order.

``schema_version`` records each migration applied (its number and when). Opening a catalog
applies the ones it lacks, in the same transaction as the rest of the opening, so a
catalog is always at one known version. A catalog written by a newer mosaico (a version
above the last one known here) is refused rather than misread. Catalogs made before
versioning hold version 1's tables already; its statements (``IF NOT EXISTS``) leave them
as they are and record the version.

The SQL sticks to what SQLite and PostgreSQL both run, so one list serves both; column
types that differ are written ``{blob}`` (and the LIKE index option ``{like_ops}``) and filled
in by the database (``catalog_db``).
Servers sharing a PostgreSQL catalog migrate in turn (an advisory lock), so two starting
at once cannot both apply a step.

To change the schema, append a ``Migration`` with the next number; never edit one that
has shipped.
"""

from __future__ import annotations

import attrs

from mosaico.errors import MosaicoError
from mosaico.server.catalog_db import Cursor, Database


class CatalogVersionError(MosaicoError):
    """The catalog was written by a newer mosaico, whose schema this one does not know."""


@attrs.frozen
class Migration:
    """One step of the schema: its ``version`` number, what it does, its statements."""

    version: int
    summary: str
    statements: tuple[str, ...]


def _statements(script: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in script.split(";") if s.strip())


_V1 = """
CREATE TABLE IF NOT EXISTS sequences (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at_ns BIGINT NOT NULL,
    user_metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    sequence_id TEXT NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    ident TEXT NOT NULL,
    created_at_ns BIGINT NOT NULL,
    completed_at_ns BIGINT,
    UNIQUE (sequence_id, ident)
);
CREATE TABLE IF NOT EXISTS topics (
    id TEXT PRIMARY KEY,
    sequence_id TEXT NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    ontology_tag TEXT NOT NULL,
    serialization_format TEXT NOT NULL,
    user_metadata TEXT NOT NULL,
    created_at_ns BIGINT NOT NULL,
    state TEXT NOT NULL,
    arrow_schema {blob},
    UNIQUE (sequence_id, path)
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    ordinal BIGINT NOT NULL,
    path TEXT NOT NULL UNIQUE,
    row_count BIGINT NOT NULL,
    file_bytes BIGINT NOT NULL,
    arrow_bytes BIGINT NOT NULL,
    min_ts BIGINT NOT NULL,
    max_ts BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_topic ON chunks (topic_id, min_ts);
CREATE TABLE IF NOT EXISTS chunk_stats (
    chunk_id TEXT NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    column_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    null_count BIGINT,
    min_int BIGINT,
    max_int BIGINT,
    min_real DOUBLE PRECISION,
    max_real DOUBLE PRECISION,
    min_text TEXT,
    max_text TEXT,
    PRIMARY KEY (chunk_id, column_path)
);
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    sequence_id TEXT NOT NULL REFERENCES sequences(id) ON DELETE CASCADE,
    topic_id TEXT REFERENCES topics(id) ON DELETE CASCADE,
    notification_type TEXT NOT NULL,
    msg TEXT NOT NULL,
    created_at_ns BIGINT NOT NULL
);
"""

# Several servers over one catalog: who is alive (``servers``, a heartbeat each), which
# server streams each upload (``topics.upload_owner``), and the chunk files that may exist
# without a chunk row (``loose_files``: noted before a file is written or after its row is
# deleted), so recovery touches only those and never lists the store. Indexes for the
# cascading deletes and the query engine's filters.
_V2 = """
CREATE TABLE IF NOT EXISTS servers (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    started_at_ns BIGINT NOT NULL,
    heartbeat_at_ns BIGINT NOT NULL
);
ALTER TABLE topics ADD COLUMN upload_owner TEXT;
CREATE TABLE IF NOT EXISTS loose_files (
    path TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    noted_at_ns BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS loose_files_by_owner ON loose_files (owner);
CREATE INDEX IF NOT EXISTS topics_by_state ON topics (state);
CREATE INDEX IF NOT EXISTS topics_by_session ON topics (session_id);
CREATE INDEX IF NOT EXISTS topics_by_tag ON topics (ontology_tag);
CREATE INDEX IF NOT EXISTS sequences_by_created ON sequences (created_at_ns);
CREATE INDEX IF NOT EXISTS notifications_by_sequence ON notifications (sequence_id);
CREATE INDEX IF NOT EXISTS notifications_by_topic ON notifications (topic_id)
"""

# The query engine's pushdown (server/query/pushdown.py): sequence names narrowed with
# ``LIKE 'prefix%'`` get an index that serves it in both dialects (``{like_ops}``); the
# distinct schemas of a tag (what a query's paths are checked against) are found from a
# digest of each topic's schema, through an index, without reading every schema. Name
# equality uses the UNIQUE index already, chunk statistics their (chunk_id, column_path) key.
_V3 = """
CREATE INDEX IF NOT EXISTS sequences_by_name_like ON sequences (name {like_ops});
ALTER TABLE topics ADD COLUMN schema_digest TEXT;
CREATE INDEX IF NOT EXISTS topics_by_tag_schema ON topics (ontology_tag, schema_digest, created_at_ns)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sequences, sessions, topics, chunks, statistics, notifications", _statements(_V1)),
    Migration(2, "servers, upload owners, loose files; indexes", _statements(_V2)),
    Migration(3, "indexes for name patterns and for the schemas of a tag", _statements(_V3)),
)
"""Every migration, in order; ``MIGRATIONS[-1].version`` is the version this code writes."""

_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, summary TEXT NOT NULL, applied_at_ns BIGINT NOT NULL)"
)


def migrate(db: Database, cur: Cursor, now_ns: int) -> int:
    """Bring the catalog behind ``cur`` (a transaction of ``db``) to the latest version;
    returns it.

    Raises:
        CatalogVersionError: the catalog is at a version newer than any known here.
    """
    db.lock_schema(cur)
    cur.execute(_VERSION_TABLE)
    current = cur.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
    latest = MIGRATIONS[-1].version
    if current > latest:
        raise CatalogVersionError(
            f"the catalog is at schema version {current}, newer than this mosaico knows "
            f"({latest}): upgrade mosaico to open it"
        )
    for migration in MIGRATIONS[current:]:
        for statement in migration.statements:
            cur.execute(db.ddl(statement))
        cur.execute(
            "INSERT INTO schema_version (version, summary, applied_at_ns) VALUES (?, ?, ?)",
            (migration.version, migration.summary, now_ns),
        )
    return latest
