"""`mosaico ingest` / `mosaico export` end to end, through a store of each backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mosaico.bridges.ros import ROS_KEY, MemorySequence, ingest
from mosaico.bridges.ros.client_sink import ClientSequence
from mosaico.cli import main
from tests.backends import Backend
from tests.bridges.ros.recordings import Recording, raw_messages
from tests.bridges.ros.rosbag_fixtures import write

TOPICS = (
    "/sensor_msgs/imu,/tf2_msgs/tfmessage,/sensor_msgs/image,/sensor_msgs/compressedimage,"
    "/my_robot/wheelstate"
)


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def stored(
    backend: Backend, recordings: dict[str, Recording], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The ROS 1 recording's selected topics ingested by the CLI into a store."""
    store = tmp_path_factory.mktemp("store")
    meta = store.parent / "meta.json"
    meta.write_text(json.dumps({"robot": "r2", "site": "lab"}))
    with backend.cli_target(store) as target:
        code, out = _run(
            "ingest", recordings["bag"].path, "--sequence", "run-1", "--topics", TOPICS,
            "--metadata", meta, *target,
        )  # fmt: skip
    assert code == 0, out
    assert "ingested" in out and "5 topics" in out
    return store


@pytest.fixture
def target(backend: Backend, stored: Path) -> Iterator[list[str]]:
    """The options of a ``mosaico`` command that reach the ``stored`` store."""
    with backend.cli_target(stored) as options:
        yield options


# The custom type's tag is not registered in this process: reading it falls back (warns).
@pytest.mark.filterwarnings("ignore::mosaico.client.UnmodeledTypeWarning")
def test_ingested_sequence_reads_back_equal(
    backend: Backend, stored: Path, recordings: dict[str, Recording]
) -> None:
    expected = MemorySequence("expected")
    ingest([recordings["bag"].path], expected, topics=TOPICS.split(","))
    with backend.client(stored) as client:
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
    target: list[str], recordings: dict[str, Recording], tmp_path: Path
) -> None:
    out = tmp_path / "back.bag"
    code, text = _run("export", "run-1", out, *target)
    assert code == 0, text
    original = raw_messages(recordings["bag"].path)
    assert raw_messages(out) == {t: original[t] for t in TOPICS.split(",")}


def test_existing_sequence_is_refused(target: list[str], recordings: dict[str, Recording]) -> None:
    code, out = _run("ingest", recordings["bag"].path, "-s", "run-1", *target)
    assert code == 1 and "sequence 'run-1' already exists" in out


def test_bad_input_is_reported_cleanly(
    backend: Backend, tmp_path: Path, recordings: dict[str, Recording]
) -> None:
    store = tmp_path / "store"
    with backend.cli_target(store) as target:
        code, out = _run("ingest", tmp_path / "missing.bag", "-s", "x", *target)
        assert code == 1 and "no such file" in out
        code, out = _run("ingest", recordings["bag"].path, "-s", "x", "-t", "/nope", *target)
        assert code == 1 and "matches no topic" in out
    with backend.client(store) as client:
        assert client.list_sequences() == []
    with backend.cli_target(store) as target:
        code, out = _run("export", "nope", tmp_path / "o.bag", *target)
    assert code == 1 and "does not exist" in out


def test_dry_run_lists_the_plan(recordings: dict[str, Recording]) -> None:
    code, out = _run(
        "ingest", recordings["mcap"].path, "-s", "x", "--dry-run",
        "-t", "/sensor_msgs/imu", "-t", "/my_robot/*", "--adapter", "/sensor_msgs/*=generic",
    )  # fmt: skip
    assert code == 0, out
    assert "/sensor_msgs/imu -> sensor_msgs/imu  [sensor_msgs/msg/Imu as sensor_msgs/msg/Imu" in out
    assert "as my_robot/msg/WheelState" in out


def _two_bad_topics(topic: str, i: int, msg: Any) -> None:
    if topic == "/camera" and i == 5:
        msg.format = "webp"  # does not convert
    if topic == "/imu" and i == 5:
        msg.header.stamp.nanosec = 1_500_000_000  # converts, but the validator rejects it


MIXED = [
    ("/imu", "sensor_msgs/msg/Imu", 10, 10_000_000),
    ("/camera", "sensor_msgs/msg/CompressedImage", 10, 30_000_000),
    ("/gps", "sensor_msgs/msg/NavSatFix", 10, 50_000_000),
]


@pytest.fixture(scope="module")
def two_bad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = write(tmp_path_factory.mktemp("bad") / "rec", "mcap", MIXED, edit=_two_bad_topics)
    return path


def test_failed_topics_are_notified_and_the_rest_is_stored(
    backend: Backend, two_bad: Path, tmp_path: Path
) -> None:
    expected = MemorySequence("expected")
    ingest([two_bad], expected, topics=["/gps"])
    with backend.client(tmp_path / "store") as client:
        sink = ClientSequence(client, "run", validate=True)
        report = ingest([two_bad], sink, batch_messages=4)
        # Conversion keeps the messages before the bad one; a rejected batch goes whole.
        assert report.written == {"/camera": 5, "/gps": 10, "/imu": 4}
        assert "'webp' is not a mosaico ImageFormat" in report.skipped["/camera"]
        assert "rejected" in report.skipped["/imu"] and "nanoseconds" in report.skipped["/imu"]
        for name, rows in report.written.items():
            topic = client.topic_handler("run", name.lstrip("/"))
            assert topic is not None and topic.row_count == rows, name
            notes = client.list_topic_notifications("run", name.lstrip("/"))
            if name == "/gps":
                assert notes == []
                got = topic.get_data_streamer().read_all().to_pylist()
                assert got == expected.topics["gps"].table().to_pylist()
            else:
                (note,) = notes
                assert note.notification_type == "error"
                assert name in note.msg and report.skipped[name] in note.msg
        assert client.list_sequence_notifications("run") == []


def test_cli_summary_lists_failed_topics(backend: Backend, two_bad: Path, tmp_path: Path) -> None:
    with backend.cli_target(tmp_path / "s") as target:
        code, out = _run("ingest", two_bad, "-s", "run", "--validate", *target)
    assert code == 0, out
    assert "skipped /camera: message 6 (log time" in out
    assert "skipped /imu: a batch was rejected: " in out
    assert "header.timestamp.nanoseconds: must be <= 999999999" in out
    assert "from 1 topics (+2 failed midway)" in out


def test_export_topics_match_ros_names_too(backend: Backend, tmp_path: Path) -> None:
    """`/_private/imu` is stored as `t_private/imu`: either name selects it on export."""
    topics = [
        ("/_private/imu", "sensor_msgs/msg/Imu", 3, 10),
        ("/gps", "sensor_msgs/msg/NavSatFix", 2, 7),
    ]
    src, _ = write(tmp_path / "src.bag", "bag", topics)
    with backend.cli_target(tmp_path / "store") as store:
        code, out = _run("ingest", src, "-s", "run", *store)
        assert code == 0, out
        original = raw_messages(src)
        for pattern in ("/_private/*", "/t_private/*"):
            back = tmp_path / f"{pattern.count('t_')}.bag"
            code, out = _run("export", "run", back, "-t", pattern, *store)
            assert code == 0, out
            assert raw_messages(back) == {"/_private/imu": original["/_private/imu"]}
        code, out = _run("export", "run", tmp_path / "x.bag", "-t", "/nope*", *store)
        assert code == 1 and "matches no topic" in out and "/_private/imu" in out
