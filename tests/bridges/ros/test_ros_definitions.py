"""Recordings without message definitions: the user's `.msg`/`.idl` files and typestores."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rosbags.rosbag2 import Writer as Writer2

from mosaico.bridges.ros import (
    ROS_KEY,
    MemorySequence,
    MissingDefinitionsError,
    RosBridgeError,
    RosSource,
    ingest,
)
from mosaico.cli import main
from mosaico.client import MosaicoClient
from tests.bridges.ros.rosbag_fixtures import (
    MOTOR_MSG,
    START_NS,
    WHEEL_MSG,
    RandomMessages,
    strip_definitions,
    typestore,
    write,
)

TOPICS = [
    ("/imu", "sensor_msgs/msg/Imu", 6, 10_000_000),
    ("/wheels", "my_robot/msg/WheelState", 5, 20_000_000),
    ("/motor", "my_robot/msg/Motor", 4, 30_000_000),
    ("/status", "sensor_msgs/msg/NavSatStatus", 3, 40_000_000),
]
MOTOR_IDL = """\
module my_robot {
  module msg {
    struct Motor {
      string name;
      float current;
      boolean enabled;
      geometry_msgs::msg::Vector3 axes[2];
    };
  };
};
"""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same sqlite3 recording twice: with stored definitions, and old-style without."""
    root = tmp_path_factory.mktemp("old")
    full, _ = write(root / "full", "db3", TOPICS, seed=7)
    old = root / "old"
    shutil.copytree(full, old)
    return full, strip_definitions(old)


def _package(root: Path, files: dict[str, str]) -> Path:
    """A folder `root/my_robot/msg/` with the given .msg files."""
    folder = root / "my_robot" / "msg"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return root


def _tables(seq: MemorySequence) -> dict[str, Any]:
    return {name: topic.table().to_pylist() for name, topic in seq.topics.items()}


def test_an_old_bag_stores_no_definitions(recorded: tuple[Path, Path]) -> None:
    with RosSource([recorded[1]]) as source:
        assert {t.definition_format for t in source.topics.values()} == {"none", "msg"}
        assert source.topics["/imu"].definition_sources == ("ros2_humble",)
        assert source.topics["/wheels"].missing == (("my_robot/msg/WheelState", None),)


@pytest.mark.parametrize("layout", ["folder", "files", "msg+idl"])
def test_user_definitions_ingest_an_old_bag_as_its_stored_ones_would(
    recorded: tuple[Path, Path], tmp_path: Path, layout: str
) -> None:
    full, old = recorded
    root = _package(tmp_path / "defs", {"WheelState.msg": WHEEL_MSG, "Motor.msg": MOTOR_MSG})
    msg_dir = root / "my_robot" / "msg"
    if layout == "folder":
        msg: list[Path] = [root]
    elif layout == "files":
        msg = [msg_dir / "WheelState.msg", msg_dir / "Motor.msg"]
    else:
        (msg_dir / "Motor.msg").unlink()
        (tmp_path / "Motor.idl").write_text(MOTOR_IDL)
        msg = [msg_dir / "WheelState.msg", tmp_path / "Motor.idl"]
    expected, got = MemorySequence("full"), MemorySequence("old")
    ingest([full], expected)
    report = ingest([old], got, msg=msg)
    assert report.skipped == {}
    assert _tables(got) == _tables(expected)
    ros = got.topics["wheels"].metadata[ROS_KEY]
    assert ros["definition_sources"] == ["msg", "ros2_humble"]  # Vector3, Header: stock
    assert ros["constants"] == expected.topics["wheels"].metadata[ROS_KEY]["constants"]


def test_every_missing_type_is_named_at_once_before_writing(
    recorded: tuple[Path, Path], tmp_path: Path
) -> None:
    old = recorded[1]
    seq = MemorySequence("run")
    with pytest.raises(MissingDefinitionsError) as info:
        ingest([old], seq)
    assert info.value.missing == {
        "my_robot/msg/Motor": ["/motor"],
        "my_robot/msg/WheelState": ["/wheels"],
    }
    text = str(info.value)
    assert "no message definition for 2 types" in text and "--msg PATH" in text
    assert "--typestore NAME" in text and "--topics '!/motor,!/wheels'" in text
    # WheelState given, the Motor it nests not: Motor is named for both topics.
    defs = _package(tmp_path / "defs", {"WheelState.msg": WHEEL_MSG})
    with pytest.raises(MissingDefinitionsError) as info:
        ingest([old], seq, msg=[defs])
    assert info.value.missing == {"my_robot/msg/Motor": ["/motor", "/wheels"]}
    assert info.value.nested_in == {"my_robot/msg/Motor": "my_robot/msg/WheelState"}
    assert "my_robot/msg/Motor (nested in my_robot/msg/WheelState; topics /motor, /wheels)" in (
        str(info.value)
    )
    assert not seq.topics and seq.error is None
    # Leaving the topics out ingests the rest.
    report = ingest([old], seq, topics=["!/wheels", "!/motor"])
    assert sorted(report.written) == ["/imu", "/status"]


def test_the_recordings_own_definitions_win(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    full = recorded[0]
    other = WHEEL_MSG.replace("int16 mode", "int32 mode")  # a different version of the type
    defs = _package(tmp_path / "defs", {"WheelState.msg": other, "Motor.msg": MOTOR_MSG})
    expected, got = MemorySequence("a"), MemorySequence("b")
    ingest([full], expected)
    ingest([full], got, msg=[defs], typestore="ros2_foxy")
    assert _tables(got) == _tables(expected)
    for topic in got.topics.values():
        assert topic.metadata[ROS_KEY]["definition_sources"] == ["recording"]


def test_a_user_definition_must_match_the_recorded_hash(tmp_path: Path) -> None:
    store = typestore(2)
    gen = RandomMessages(store, 5)
    path = tmp_path / "hashed"
    with Writer2(path, version=9) as writer:
        motor = "my_robot/msg/Motor"
        conn = writer.add_connection(
            "/motor", motor, msgdef="", rihs01=store.hash_rihs01(motor)
        )  # fmt: skip
        for i in range(3):
            writer.write(conn, START_NS + i, store.serialize_cdr(gen.message(motor), motor))
    wrong = _package(tmp_path / "wrong", {"Motor.msg": MOTOR_MSG.replace("float32", "float64")})
    with pytest.raises(RosBridgeError, match="nothing to ingest") as info:
        ingest([path], MemorySequence("run"), msg=[wrong])
    assert (
        "the definition of my_robot/msg/Motor from --msg and typestore ros2_humble does not "
        "match the recorded hash" in str(info.value)
    )
    right = _package(tmp_path / "right", {"Motor.msg": MOTOR_MSG})
    report = ingest([path], MemorySequence("run"), msg=[right])
    assert report.written == {"/motor": 3}


def test_typestore_names_the_stock_definitions(recorded: tuple[Path, Path]) -> None:
    old = recorded[1]
    with RosSource([old], typestore=["ros1_noetic", "ros2_foxy"]) as source:
        assert source.topics["/imu"].definition_sources == ("ros2_foxy",)
    with pytest.raises(RosBridgeError, match="unknown typestore 'ros2_rolling'; expected one"):
        RosSource([old], typestore="ros2_rolling")
    with pytest.raises(RosBridgeError, match="two typestores for ROS 2: ros2_foxy and ros2_jazzy"):
        RosSource([old], typestore=["ros2_foxy", "ros2_jazzy"])


def _conflict(tmp_path: Path) -> list[Path]:
    a = _package(tmp_path / "a", {"Motor.msg": MOTOR_MSG})
    b = _package(tmp_path / "b", {"Motor.msg": "int8 x\n"})
    return [a, b]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: [p / "nope"], "no such file or directory"),
        (lambda p: [_write(p / "empty" / "README", "")], "expected a .msg or .idl file"),
        (lambda p: [(p / "x.msg").parent], "no .msg or .idl file in this folder"),
        (lambda p: [_write(p / "Motor.msg", MOTOR_MSG)], "cannot tell the package"),
        (lambda p: [_write(p / "notes.txt", "x")], "expected a .msg or .idl file"),
        (lambda p: [_write(p / "bad.idl", "module x {")], "not a valid message definition"),
        (_conflict, "my_robot/msg/Motor is defined differently by"),
    ],
)
def test_bad_definitions_are_named(
    recorded: tuple[Path, Path], tmp_path: Path, make: Any, message: str
) -> None:
    with pytest.raises(RosBridgeError, match=message):
        RosSource([recorded[1]], msg=make(tmp_path))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_cli_msg_and_typestore(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    old, store = recorded[1], tmp_path / "store"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(old), "-s", "run", "--store", str(store)])
    assert result.exit_code == 1
    assert "no message definition for 2 types" in result.output and "--msg PATH" in result.output
    defs = _package(tmp_path / "defs", {"WheelState.msg": WHEEL_MSG, "Motor.msg": MOTOR_MSG})
    args = ["ingest", str(old), "-s", "run", "--msg", str(defs), "--typestore", "ros2_humble"]
    result = runner.invoke(main, [*args, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "from 4 topics" in result.output
    with MosaicoClient.local(store) as client:
        assert client.list_sequences() == ["run"]
    result = runner.invoke(main, [*args[:-1], "ros9", "--dry-run"])
    assert result.exit_code == 2 and "'ros9' is not one of" in result.output
