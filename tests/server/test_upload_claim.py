"""The DoPut preconditions (spec §6.1): checked in the spec's order, the claim atomic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import attrs
import pyarrow as pa
import pytest

from mosaico.protocol import actions as act
from mosaico.protocol.commands import UploadCommand
from mosaico.protocol.errors import FailedPrecondition, InvalidArgument, NotFound, ProtocolError
from mosaico.protocol.names import TopicLocator
from mosaico.server.catalog import Catalog, TopicRow
from mosaico.server.store import Store
from mosaico.server.upload import TopicUpload, claim_topic
from tests.backends import Backend

SCHEMA = pa.schema([("timestamp_ns", pa.int64()), ("value", pa.float64())])


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    """A store holding the sequence ``seq``."""
    opened = backend.open_store(tmp_path)
    opened.create_sequence(act.SequenceCreate("seq"))
    try:
        yield opened
    finally:
        opened.close()


def _session(store: Store) -> str:
    return store.create_session(act.SessionCreate("seq")).uuid


def _topic(store: Store, session: str, path: str) -> UploadCommand:
    locator = TopicLocator("seq", path)
    created = store.create_topic(act.TopicCreate(session, locator, "default", "tag"))
    return UploadCommand(locator, created.uuid)


def _uploaded(store: Store, session: str, path: str) -> UploadCommand:
    cmd = _topic(store, session, path)
    store.end_upload(store.begin_upload(cmd, SCHEMA), ok=True)
    return cmd


@pytest.fixture
def topic(store: Store) -> UploadCommand:
    """The upload command of a new topic ``seq/a``."""
    return _topic(store, _session(store), "a")


def test_checks_in_spec_order(store: Store) -> None:
    no_ts = pa.schema([("value", pa.float64())])
    unstorable = SCHEMA.append(pa.field("x", pa.struct([])))
    finalized, open_ = _session(store), _session(store)
    locked = _uploaded(store, finalized, "locked")
    store.finalize_session(act.SessionFinalize(finalized))
    done = _uploaded(store, open_, "done")
    fresh = _topic(store, open_, "fresh")
    # Each case breaks every later precondition too: the earliest one is reported.
    with pytest.raises(InvalidArgument, match="^invalid argument: topic_uuid does not match"):
        store.begin_upload(attrs.evolve(locked, topic_uuid=fresh.topic_uuid), no_ts)
    with pytest.raises(FailedPrecondition, match="topic 'seq/locked' belongs to a finalized"):
        store.begin_upload(locked, no_ts)
    with pytest.raises(FailedPrecondition, match="topic 'seq/done' already received an upload"):
        store.begin_upload(done, no_ts)
    with pytest.raises(InvalidArgument, match="exactly one field 'timestamp_ns' of type int64"):
        store.begin_upload(fresh, no_ts.append(pa.field("x", pa.struct([]))))
    with pytest.raises(InvalidArgument, match="^invalid argument: upload schema cannot be st"):
        store.begin_upload(fresh, unstorable)
    store.end_upload(store.begin_upload(fresh, SCHEMA), ok=True)


def test_schema_is_stored_only_by_the_claim(store: Store, topic: UploadCommand) -> None:
    assert store.topic_schema(topic.topic) == pa.schema([])  # before any upload
    with pytest.raises(InvalidArgument):
        store.begin_upload(topic, pa.schema([("timestamp_ns", pa.int32())]))
    assert store.topic_schema(topic.topic) == pa.schema([])  # a refusal claims nothing
    store.end_upload(store.begin_upload(topic, SCHEMA), ok=True)
    assert store.topic_schema(topic.topic) == SCHEMA
    with pytest.raises(NotFound, match="^not found: topic 'seq/zz' does not exist$"):
        store.begin_upload(UploadCommand(TopicLocator("seq", "zz"), topic.topic_uuid), SCHEMA)


def test_concurrent_uploads_of_one_topic_one_wins(store: Store, topic: UploadCommand) -> None:
    start = threading.Barrier(8)
    won: list[TopicUpload] = []
    refused: list[ProtocolError] = []

    def upload() -> None:
        start.wait()
        try:
            won.append(store.begin_upload(topic, SCHEMA))
        except FailedPrecondition as exc:
            refused.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert len(refused) == 7
    assert all("already received an upload" in str(e) for e in refused)
    store.end_upload(won[0], ok=True)


def test_the_claim_checks_again_inside_its_transaction(store: Store, topic: UploadCommand) -> None:
    before = store.catalog.get_topic("seq", "a")
    upload = store.begin_upload(topic, SCHEMA)  # another stream claims the topic meanwhile

    class Stale:
        """A catalog whose plain read still shows the topic as it was before that claim."""

        def get_topic(self, sequence: str, path: str) -> TopicRow:
            return before

        begin_upload = store.catalog.begin_upload

    with pytest.raises(FailedPrecondition, match="'seq/a' already received an upload"):
        claim_topic(cast(Catalog, Stale()), topic, SCHEMA, "none", store.server_id)
    store.end_upload(upload, ok=True)
