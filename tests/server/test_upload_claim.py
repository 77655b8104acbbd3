"""The DoPut preconditions (spec §6.1): one ordered check, run inside the catalog's claim."""

from __future__ import annotations

import threading
from pathlib import Path

import attrs
import pyarrow as pa
import pytest

from mosaico.protocol import actions as act
from mosaico.protocol.commands import UploadCommand
from mosaico.protocol.errors import FailedPrecondition, InvalidArgument, NotFound, ProtocolError
from mosaico.protocol.names import TopicLocator
from mosaico.server.catalog import CREATED, UPLOADING, TopicRow
from mosaico.server.store import Store
from mosaico.server.upload import TopicUpload, check_upload

SCHEMA = pa.schema([("timestamp_ns", pa.int64()), ("value", pa.float64())])
UUID = "00000000-0000-4000-8000-000000000001"


def _row(**changes: object) -> TopicRow:
    row = TopicRow(
        UUID, "q", "seq", "s", "a", "tag", "default", {}, 1, CREATED, None, None
    )  # fmt: skip
    return attrs.evolve(row, **changes)


def test_checks_in_spec_order() -> None:
    no_ts = pa.schema([("value", pa.float64())])
    other = "00000000-0000-4000-8000-000000000002"
    # Each case breaks every later precondition too: the earliest one must be reported.
    with pytest.raises(
        InvalidArgument, match="^invalid argument: topic_uuid does not match topic 'seq/a'$"
    ):
        check_upload(_row(completed_at_ns=5, state=UPLOADING), other, no_ts, "none")
    with pytest.raises(
        FailedPrecondition,
        match="^failed precondition: topic 'seq/a' belongs to a finalized session$",
    ):
        check_upload(_row(completed_at_ns=5, state=UPLOADING), UUID, no_ts, "none")
    with pytest.raises(
        FailedPrecondition, match="^failed precondition: topic 'seq/a' already received an upload$"
    ):
        check_upload(_row(state=UPLOADING), UUID, no_ts, "none")
    with pytest.raises(InvalidArgument, match="exactly one field 'timestamp_ns' of type int64"):
        check_upload(_row(), UUID, no_ts, "none")
    with pytest.raises(InvalidArgument, match="^invalid argument: upload schema cannot be stored"):
        check_upload(_row(), UUID, SCHEMA.append(pa.field("x", pa.struct([]))), "none")
    assert check_upload(_row(), UUID, SCHEMA, "none").compression == "none"


def _topic(store: Store) -> UploadCommand:
    store.create_sequence(act.SequenceCreate("seq"))
    session = store.create_session(act.SessionCreate("seq"))
    locator = TopicLocator("seq", "a")
    created = store.create_topic(act.TopicCreate(session.uuid, locator, "default", "tag"))
    return UploadCommand(locator, created.uuid)


def test_schema_is_stored_only_by_the_claim(tmp_path: Path) -> None:
    store = Store.open_local(str(tmp_path))
    try:
        cmd = _topic(store)
        assert store.topic_schema(cmd.topic) == pa.schema([])  # before any upload
        with pytest.raises(InvalidArgument):
            store.begin_upload(cmd, pa.schema([("timestamp_ns", pa.int32())]))
        assert store.topic_schema(cmd.topic) == pa.schema([])  # a refusal claims nothing
        store.end_upload(store.begin_upload(cmd, SCHEMA), ok=True)
        assert store.topic_schema(cmd.topic) == SCHEMA
        with pytest.raises(NotFound, match="^not found: topic 'seq/zz' does not exist$"):
            store.begin_upload(UploadCommand(TopicLocator("seq", "zz"), cmd.topic_uuid), SCHEMA)
    finally:
        store.close()


def test_concurrent_uploads_of_one_topic_one_wins(tmp_path: Path) -> None:
    store = Store.open_local(str(tmp_path))
    try:
        cmd = _topic(store)
        start = threading.Barrier(8)
        won: list[TopicUpload] = []
        refused: list[ProtocolError] = []

        def upload() -> None:
            start.wait()
            try:
                won.append(store.begin_upload(cmd, SCHEMA))
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
    finally:
        store.close()
