"""`mosaico ingest` / `mosaico export` end to end, through an embedded server store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import Recording, raw_messages

from mosaico.bridges.ros import ROS_KEY, MemorySequence, ingest
from mosaico.cli import main
from mosaico.client import MosaicoClient

TOPICS = "/sensor_msgs/imu,/tf2_msgs/tfmessage,/sensor_msgs/image,/my_robot/wheelstate"


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def stored(recordings: dict[str, Recording], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ROS 1 recording's selected topics ingested by the CLI into a store."""
    store = tmp_path_factory.mktemp("store")
    meta = store.parent / "meta.json"
    meta.write_text(json.dumps({"robot": "r2", "site": "lab"}))
    code, out = _run(
        "ingest", recordings["bag"].path, "--sequence", "run-1", "--topics", TOPICS,
        "--metadata", meta, "--store", store,
    )  # fmt: skip
    assert code == 0, out
    assert "ingested" in out and "4 topics" in out
    return store


# The custom type's tag is not registered in this process: reading it falls back (warns).
@pytest.mark.filterwarnings("ignore::mosaico.client.UnmodeledTypeWarning")
def test_ingested_sequence_reads_back_equal(stored: Path, recordings: dict[str, Recording]) -> None:
    expected = MemorySequence("expected")
    ingest([recordings["bag"].path], expected, topics=TOPICS.split(","))
    with MosaicoClient.local(stored) as client:
        seq = client.sequence_handler("run-1")
        assert seq is not None
        assert seq.user_metadata == {"robot": "r2", "site": "lab"}
        assert sorted(t.lstrip("/") for t in seq.topics) == sorted(expected.topics)
        for name, topic in expected.topics.items():
            handler = client.topic_handler("run-1", name)
            assert handler is not None
            assert handler.ontology_tag == topic.topic_type.tag
            assert handler.user_metadata[ROS_KEY]["type"] == topic.metadata[ROS_KEY]["type"]
            got = handler.get_data_streamer().read_all()
            assert got.to_pylist() == topic.table().to_pylist(), name


def test_export_round_trip_through_the_store(
    stored: Path, recordings: dict[str, Recording], tmp_path: Path
) -> None:
    out = tmp_path / "back.bag"
    code, text = _run("export", "run-1", out, "--store", stored)
    assert code == 0, text
    original = raw_messages(recordings["bag"].path)
    assert raw_messages(out) == {t: original[t] for t in TOPICS.split(",")}


def test_existing_sequence_is_refused(stored: Path, recordings: dict[str, Recording]) -> None:
    code, out = _run("ingest", recordings["bag"].path, "-s", "run-1", "--store", stored)
    assert code == 1 and "sequence 'run-1' already exists" in out


def test_bad_input_is_reported_cleanly(tmp_path: Path, recordings: dict[str, Recording]) -> None:
    store = tmp_path / "store"
    code, out = _run("ingest", tmp_path / "missing.bag", "-s", "x", "--store", store)
    assert code == 1 and "no such file" in out
    code, out = _run("ingest", recordings["bag"].path, "-s", "x", "-t", "/nope", "--store", store)
    assert code == 1 and "matches no topic" in out
    with MosaicoClient.local(store) as client:
        assert client.list_sequences() == []
    code, out = _run("export", "nope", tmp_path / "o.bag", "--store", store)
    assert code == 1 and "does not exist" in out


def test_dry_run_lists_the_plan(recordings: dict[str, Recording]) -> None:
    code, out = _run(
        "ingest", recordings["mcap"].path, "-s", "x", "--dry-run",
        "-t", "/sensor_msgs/imu", "-t", "/my_robot/*", "--adapter", "/sensor_msgs/*=generic",
    )  # fmt: skip
    assert code == 0, out
    assert "/sensor_msgs/imu -> sensor_msgs/imu  [sensor_msgs/msg/Imu as sensor_msgs/msg/Imu" in out
    assert "as my_robot/msg/WheelState" in out
