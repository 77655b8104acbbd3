"""LeRobot itself reads what `mosaico export --format lerobot` wrote from a server.

Two multi-rate sequences (a 20 Hz camera with jittered stamps, joints at 200 Hz, a command
at 100 Hz) are stored, exported by the CLI at 30 fps, then loaded by
``LeRobotDataset(repo_id=..., root=OUT)`` offline in LeRobot's own environment
(`tests.lerobot.environment`, built once), which reads every frame, decoding the video with
its default backend (torchcodec). What it read must be what the grid holds, worked out
independently (`tests.lerobot.recordings.expected`): numbers exactly, timestamps, episode
boundaries, tasks, and camera frames within the codec's error.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mosaico.cli import main
from tests.backends import Backend
from tests.lerobot import environment
from tests.lerobot.recordings import TYPES, expected, pattern, recording

FPS = 30
READER = Path(__file__).with_name("read_dataset.py")


@pytest.fixture(scope="module")
def lerobot_python() -> Path:
    """LeRobot's interpreter; the test fails, naming the command, when it cannot be built."""
    try:
        return environment.ensure()
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.fail(
            f"cannot build LeRobot's environment ({exc}); build it with `{environment.COMMAND}` "
            "(and deploy/packages.sh for FFmpeg)"
        )


def _read(python: Path, root: Path, out: Path) -> dict[str, np.ndarray]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HOME"] = str(out.parent / "hf")  # LeRobot's caches stay in the test's folder
    done = subprocess.run(
        [str(python), str(READER), str(root), str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as data:
        return {k: data[k] for k in data.files}


Read = tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], list[str]]


@pytest.fixture(scope="module")
def read(backend: Backend, tmp_path_factory: pytest.TempPathFactory, lerobot_python: Path) -> Read:
    """Two sequences stored, exported by the CLI, read by LeRobot: what it read, what the
    grid holds (per episode), and the sequence names."""
    tmp = tmp_path_factory.mktemp("lerobot-reads")
    episodes = {"pick-1": recording(1, 2.0), "pick-2": recording(2, 1.5)}
    store = tmp / "store"
    with backend.client(store) as client:
        for name, tables in episodes.items():
            with client.sequence_create(name, {"task": f"pick the cube ({name})"}) as seq:
                for topic, table in tables.items():
                    seq.topic_create(topic, {}, TYPES[topic]).push_batch(table)
    out = tmp / "dataset"
    with backend.cli_target(store) as target:
        result = CliRunner().invoke(main, [
            "export", *episodes, str(out), "--format", "lerobot", "--fps", str(FPS),
            "--stream", "/camera=front", "--stream", "/joints=state:positions,velocities",
            "--stream", "/cmd=action", "--task-key", "task", *target,
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "exported 2 episodes" in result.output
    got = _read(lerobot_python, out, tmp / "read.npz")
    return got, [expected(tables, FPS) for tables in episodes.values()], list(episodes)


def test_lerobot_sees_the_episodes_and_their_frame_indices(read: Read) -> None:
    got, want, _ = read
    lengths = [len(w["ticks"]) for w in want]
    assert int(got["meta_fps"]) == FPS and int(got["meta_total_frames"]) == sum(lengths)
    assert got["meta_episode_length"].tolist() == lengths
    assert got["meta_episode_from"].tolist() == [0, lengths[0]]
    assert got["meta_episode_to"].tolist() == [lengths[0], sum(lengths)]
    assert got["episode_index"].tolist() == [0] * lengths[0] + [1] * lengths[1]
    assert got["index"].tolist() == list(range(sum(lengths)))
    assert got["frame_index"].tolist() == list(range(lengths[0])) + list(range(lengths[1]))
    np.testing.assert_allclose(
        got["timestamp"], np.concatenate([np.arange(n) / FPS for n in lengths]), atol=1e-6
    )


def test_lerobot_reads_the_numbers_and_tasks_exactly(read: Read) -> None:
    got, want, names = read
    tasks = [f"pick the cube ({n})" for n, w in zip(names, want) for _ in w["ticks"]]
    assert got["task"].tolist() == tasks
    np.testing.assert_array_equal(
        got["observation.state"], np.concatenate([w["state"] for w in want])
    )
    np.testing.assert_array_equal(
        got["action"].reshape(-1), np.concatenate([w["action"] for w in want]).reshape(-1)
    )


def test_lerobot_decodes_the_camera_frame_of_each_tick(read: Read) -> None:
    got, want, _ = read
    assert got["meta_camera_keys"].tolist() == ["observation.images.front"]
    assert str(got["meta_video_backend"]) == "torchcodec"  # LeRobot's default decoder
    shown = np.concatenate([w["camera"] for w in want])
    frames = got["observation.images.front"]
    assert frames.shape == (len(shown), 48, 64, 3)
    errors = np.array([np.abs(f.astype(int) - pattern(i)).mean() for f, i in zip(frames, shown)])
    assert errors.max() < 3.0, f"frame {errors.argmax()} is off by {errors.max():.1f} levels"
    # The pattern changes from frame to frame: a frame off by one would be far off.
    wrong = np.abs(frames[10].astype(int) - pattern(shown[10] + 1)).mean()
    assert wrong > 10 * errors.max()
