"""Run in the LeRobot environment (`tests/lerobot/environment.py`) by `bench_ml_remote.py`:
one epoch of windows from a `LeRobotDataset` through a torch `DataLoader`.

    python lerobot_loader.py ROOT LENGTH STRIDE BATCH WORKERS

A window is `LENGTH` frames of every numeric feature (LeRobot's `delta_timestamps`, the
frame and the `LENGTH - 1` before it); items start every `STRIDE` frames of an episode,
where a whole window fits, like the mosaico datasets. Prints one JSON line: windows/s and
MB/s of tensors delivered from the first batch on, and the number of windows.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"

import torch  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402
from torch.utils.data import DataLoader, Subset  # noqa: E402


def tensor_bytes(batch: dict) -> int:
    """Bytes of the tensors of one batch (text fields such as `task` are not counted)."""
    return sum(t.element_size() * t.nelement() for t in batch.values() if torch.is_tensor(t))


def window_starts(ds: LeRobotDataset, length: int, stride: int) -> list[int]:
    """The dataset index of each window's last frame: every `stride` frames of an episode,
    from the first frame with `length - 1` frames before it."""
    episodes = ds.meta.episodes
    starts = []
    for lo, hi in zip(episodes["dataset_from_index"], episodes["dataset_to_index"]):
        starts.extend(range(lo + length - 1, hi, stride))
    return starts


def main(root: str, length: int, stride: int, batch: int, workers: int) -> None:
    torch.set_num_threads(1)
    meta = LeRobotDataset(repo_id="local/bench", root=root).meta
    numeric = [k for k, f in meta.features.items() if f["dtype"] == "float32" and k != "timestamp"]
    deltas = {k: [(i - length + 1) / meta.fps for i in range(length)] for k in numeric}
    ds = LeRobotDataset(repo_id="local/bench", root=root, delta_timestamps=deltas)
    windows = Subset(ds, window_starts(ds, length, stride))
    loader = iter(DataLoader(windows, batch_size=batch, num_workers=workers))
    first = next(loader)
    count, nbytes = 0, 0
    started = time.perf_counter()
    for item in loader:
        count += len(item["index"])
        nbytes += tensor_bytes(item)
    dt = time.perf_counter() - started
    total = count + len(first["index"])
    print(
        json.dumps({"windows_per_s": count / dt, "mb_per_s": nbytes / dt / 1e6, "windows": total})
    )


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:6]))
