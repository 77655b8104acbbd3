"""`mosaico export ... --format lerobot` from the command line, and what it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico.cli import main
from tests.backends import Backend
from tests.lerobot.recordings import TYPES, recording

STREAMS = ["--stream", "/camera=front", "--stream", "/joints=state", "--stream", "/cmd=action"]


@pytest.fixture(scope="module")
def store(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store")
    with backend.client(path) as client:
        for name in ("run-1", "run-2"):
            with client.sequence_create(name, {"job": 7}) as seq:
                for topic, table in recording(int(name[-1]), 1.0).items():
                    seq.topic_create(topic, {}, TYPES[topic]).push_batch(table)
    return path


@pytest.fixture
def target(backend: Backend, store: Path) -> Iterator[list[str]]:
    with backend.cli_target(store) as options:
        yield options


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_export_writes_one_episode_per_sequence(target: list[str], tmp_path: Path) -> None:
    out = tmp_path / "ds"
    code, text = _run(
        "export", "run-1", "run-2", out, "--format", "lerobot", "--fps", "15", *STREAMS,
        "--task", "sort", "--robot-type", "so100", "--align", "interpolate", *target,
    )  # fmt: skip
    assert code == 0, text
    assert text.startswith("exported 2 episodes (") and "at 15 fps" in text
    # Default fields of RobotJoint: its three lists (3 values each), not its header.
    assert "observation.state float32[9]" in text and "observation.images.front video 64x48" in text
    info = json.loads((out / "meta/info.json").read_text())
    assert (info["fps"], info["robot_type"], info["total_episodes"]) == (15, "so100", 2)
    assert info["features"]["observation.state"]["names"][:2] == [
        "/joints.positions_0", "/joints.positions_1",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run-1", "run-2", "OUT.mcap"], "ROS formats export one sequence, got 2: run-1, run-2"),
        (["run-1", "OUT.mcap", "--fps", "30"], "--fps: only for --format lerobot"),
        (["run-1", "OUT", "--format", "lerobot", *STREAMS], "--format lerobot needs --fps"),
        (["run-1", "OUT", "--format", "lerobot", "--fps", "30"], "needs --stream TOPIC=KEY"),
        (["run-1", "OUT", "--format", "lerobot", "--fps", "30", "-t", "/imu", *STREAMS],
         "--topics and --compression are for ROS formats"),
        (["run-1", "nope", "OUT", "--format", "lerobot", "--fps", "30", *STREAMS],
         "unknown sequence 'nope'"),
        (["run-1", "OUT", "--format", "lerobot", "--fps", "-5", *STREAMS],
         "fps must be an integer > 0"),
        (["run-1", "OUT", "--format", "lerobot", "--fps", "30", "--stream", "/imu=state"],
         "sequence 'run-1' has no topic '/imu'"),
        (["run-1", "OUT", "--format", "lerobot", "--fps", "30", "--stream", "/cmd=wrist"],
         "topic '/cmd' is Floating64, not an image"),
        (["run-1", "OUT", "--format", "lerobot", "--fps", "30", *STREAMS, "--task-key", "job"],
         "metadata key 'job' holds no task text"),
        (["run-1", "OUT"], "give --format (mcap, bag, db3 or lerobot)"),
    ],
)  # fmt: skip
def test_bad_exports_are_one_line_errors(
    target: list[str], tmp_path: Path, args: list[str], message: str
) -> None:
    args = [str(tmp_path / a) if a.startswith("OUT") else a for a in args]
    code, text = _run("export", *args, *target)
    assert code != 0 and message in text, text
    assert "Traceback" not in text
    assert list(tmp_path.iterdir()) == []
