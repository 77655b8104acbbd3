"""Run in the LeRobot environment (`tests/lerobot/environment.py`): load a dataset with
`lerobot.datasets.lerobot_dataset.LeRobotDataset`, offline, read every frame, and save
what it read as an .npz for the test to compare.

    python read_dataset.py ROOT OUT.npz [VIDEO_BACKEND]

Saved: each numeric feature (frames x dim), each camera (frames x H x W x 3 uint8),
``timestamp``, ``frame_index``, ``episode_index``, ``index``, ``task`` (text), and the
metadata LeRobot read: ``meta_fps``, ``meta_episode_from``/``_to``/``_length``,
``meta_camera_keys``, ``meta_total_frames``, ``meta_video_backend``.
"""

from __future__ import annotations

import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402


def main(root: str, out: str, backend: str | None) -> None:
    ds = LeRobotDataset(repo_id="local/mosaico-export", root=root, video_backend=backend)
    cameras = ds.meta.camera_keys
    numeric = [
        k for k, f in ds.features.items()
        if f["dtype"] == "float32" and k != "timestamp"
    ]  # fmt: skip
    rows: dict[str, list] = {k: [] for k in [*numeric, *cameras, "timestamp", "frame_index",
                                              "episode_index", "index", "task"]}  # fmt: skip
    for i in range(len(ds)):
        item = ds[i]
        for k in numeric:
            rows[k].append(np.atleast_1d(item[k].numpy()))
        for k in cameras:
            # LeRobot gives C x H x W floats in [0, 1].
            rows[k].append(np.rint(item[k].numpy().transpose(1, 2, 0) * 255).astype(np.uint8))
        for k in ("timestamp", "frame_index", "episode_index", "index"):
            rows[k].append(item[k].item())
        rows["task"].append(item["task"])
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    episodes = ds.meta.episodes
    arrays["meta_fps"] = np.asarray(ds.meta.fps)
    arrays["meta_total_frames"] = np.asarray(ds.meta.total_frames)
    arrays["meta_episode_from"] = np.asarray(episodes["dataset_from_index"])
    arrays["meta_episode_to"] = np.asarray(episodes["dataset_to_index"])
    arrays["meta_episode_length"] = np.asarray(episodes["length"])
    arrays["meta_camera_keys"] = np.asarray(cameras)
    arrays["meta_video_backend"] = np.asarray(ds.video_backend)
    np.savez(out, **arrays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
