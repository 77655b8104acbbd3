"""Writes the files of a LeRobot v3.0 dataset, one planned episode after another.

``data/chunk-XXX/file-YYY.parquet`` holds the frames (the features, then ``timestamp``,
``frame_index``, ``episode_index``, ``index``, ``task_index``), episodes appended until a
file reaches its size limit; ``videos/<key>/...mp4`` the cameras (`mosaico.ml.lerobot.video`);
``meta/episodes/chunk-000/file-000.parquet`` one row per episode (index ranges, length,
tasks, file indices, video time ranges, statistics); ``meta/tasks.parquet``,
``meta/stats.json`` and ``meta/info.json`` are written last.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mosaico.ml.lerobot import paths
from mosaico.ml.lerobot.images import FrameDecoder
from mosaico.ml.lerobot.layout import CameraFeature, Episode, Feature, NumericFeature
from mosaico.ml.lerobot.paths import FileIndex
from mosaico.ml.lerobot.stats import ChannelHistogram, Stats, aggregate, as_json, numeric_stats
from mosaico.ml.lerobot.video import CameraVideo, video_info
from mosaico.protocol.topic_type import TIMESTAMP

CHUNK_NS = 1_000_000_000  # the synchroniser's window: one second of frames in memory
_INDEX_COLUMNS = ("frame_index", "episode_index", "index", "task_index")


def feature_info(features: Sequence[Feature], fps: int, vcodec: str) -> dict[str, Any]:
    """The ``features`` entry of ``info.json``: ours, then LeRobot's index columns."""
    out: dict[str, Any] = {}
    for f in features:
        if isinstance(f, NumericFeature):
            out[f.name] = {"dtype": "float32", "shape": [f.dim], "names": f.names}
        else:
            out[f.name] = {
                "dtype": "video",
                "shape": list(f.shape),
                "names": ["height", "width", "channels"],
                "info": video_info(f.shape, fps, vcodec),
            }
    out["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for name in _INDEX_COLUMNS:
        out[name] = {"dtype": "int64", "shape": [1], "names": None}
    return out


def _vector_column(values: np.ndarray) -> pa.Array:
    """A feature's values as LeRobot stores them: a scalar for shape (1,), else a
    fixed-size list."""
    if values.shape[1] == 1:
        return pa.array(values[:, 0], pa.float32())
    flat = pa.array(values.reshape(-1), pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


class _Frames:
    """One episode's values while it is synchronised: numbers kept, frames encoded."""

    def __init__(self, episode: Episode, videos: dict[str, CameraVideo]) -> None:
        self.episode = episode
        self.numeric = [f for f in episode.features if isinstance(f, NumericFeature)]
        self.cameras = [f for f in episode.features if isinstance(f, CameraFeature)]
        self.values: dict[str, list[np.ndarray]] = {f.name: [] for f in self.numeric}
        self.ticks: list[np.ndarray] = []
        self.decoders = {c.name: FrameDecoder(c.topic, c.tag) for c in self.cameras}
        self.histograms = {c.name: ChannelHistogram() for c in self.cameras}
        self.videos = videos

    def read(self) -> None:
        """Synchronise the episode's ticks, window by window."""
        e = self.episode
        # data_ns from the start of the data: each topic's last message before the first
        # tick seeds it (the first tick is the latest first message).
        run = e.sync.run(
            start_ns=e.start_ns, end_ns=e.end_ns, chunk_ns=CHUNK_NS, origin_ns=e.start_ns,
            data_ns=(None, None),
        )  # fmt: skip
        for table in run:
            self.ticks.append(table.column(TIMESTAMP).to_numpy())
            for f in self.numeric:
                self.values[f.name].append(f.values(table))
            for c in self.cameras:
                for frame in self.decoders[c.name].frames(table):
                    self.videos[c.name].add(frame)
                    self.histograms[c.name].add(frame)
        frames = sum(len(t) for t in self.ticks)
        if frames != e.frames:
            raise RuntimeError(
                f"episode {e.name!r}: {frames} ticks synchronised, {e.frames} planned"
            )

    def columns(self, first_index: int, episode_index: int, task_index: int) -> dict[str, Any]:
        """The episode's data columns, by name, as numpy arrays (numeric features 2-D)."""
        n = self.episode.frames
        ticks = np.concatenate(self.ticks)
        out: dict[str, Any] = {f.name: np.concatenate(self.values[f.name]) for f in self.numeric}
        out["timestamp"] = ((ticks - self.episode.start_ns) / 1e9).astype(np.float32)
        out["frame_index"] = np.arange(n, dtype=np.int64)
        out["episode_index"] = np.full(n, episode_index, np.int64)
        out["index"] = np.arange(first_index, first_index + n, dtype=np.int64)
        out["task_index"] = np.full(n, task_index, np.int64)
        return out


class DatasetWriter:
    """The files of one dataset under `root`, episode by episode; `finish` writes the
    metadata."""

    def __init__(
        self, root: Path, features: Sequence[Feature], fps: int, vcodec: str,
        robot_type: str | None,
    ) -> None:  # fmt: skip
        self.root, self.features, self.fps, self.vcodec = root, list(features), fps, vcodec
        self.robot_type = robot_type
        self.videos = {
            f.name: CameraVideo(
                root, f.name, f.shape, fps, vcodec, paths.VIDEO_FILE_MB, paths.CHUNKS_SIZE
            )
            for f in features
            if isinstance(f, CameraFeature)
        }
        self.tasks: dict[str, int] = {}
        self.episodes: list[dict[str, Any]] = []
        self.stats: list[dict[str, Stats]] = []
        self.frames = 0
        self._data = FileIndex(0, 0)
        self._writer: pq.ParquetWriter | None = None

    def write(self, episode: Episode) -> None:
        """Synchronise one episode and append it to the data and video files."""
        index = len(self.episodes)
        task = self.tasks.setdefault(episode.task, len(self.tasks))
        for v in self.videos.values():
            v.start_episode()
        frames = _Frames(episode, self.videos)
        frames.read()
        columns = frames.columns(self.frames, index, task)
        data = self._append(columns)
        stats = {k: numeric_stats(v) for k, v in columns.items()}
        stats.update({k: h.stats() for k, h in frames.histograms.items()})
        record: dict[str, Any] = {
            "episode_index": index,
            "tasks": [episode.task],
            "length": episode.frames,
            "data/chunk_index": data.chunk,
            "data/file_index": data.file,
            "dataset_from_index": self.frames,
            "dataset_to_index": self.frames + episode.frames,
        }
        for key, video in self.videos.items():
            placed = video.end_episode()
            record[f"videos/{key}/chunk_index"] = placed.index.chunk
            record[f"videos/{key}/file_index"] = placed.index.file
            record[f"videos/{key}/from_timestamp"] = placed.from_timestamp
            record[f"videos/{key}/to_timestamp"] = placed.to_timestamp
        record["meta/episodes/chunk_index"] = 0
        record["meta/episodes/file_index"] = 0
        for key, feature_stats in as_json(stats).items():
            for name, value in feature_stats.items():
                record[f"stats/{key}/{name}"] = value
        self.episodes.append(record)
        self.stats.append(stats)
        self.frames += episode.frames

    def _append(self, columns: dict[str, Any]) -> FileIndex:
        """Append an episode's rows to the data file (a new file once one is full)."""
        table = pa.table(
            {k: _vector_column(v) if v.ndim == 2 else pa.array(v) for k, v in columns.items()}
        )
        path = self.root / self._data.data_path()
        if self._writer is not None and path.stat().st_size >= paths.DATA_FILE_MB * 1024 * 1024:
            self._writer.close()
            self._writer = None
            self._data = self._data.next()
            path = self.root / self._data.data_path()
        if self._writer is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(path, table.schema, compression="snappy")
        self._writer.write_table(table)
        return self._data

    def close(self) -> None:
        """Close the open data and video files."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for v in self.videos.values():
            v.close()

    def finish(self) -> dict[str, Any]:
        """Close the files and write the metadata; returns ``info.json``'s content."""
        self.close()
        meta = self.root / "meta"
        episodes = self.root / paths.EPISODES_PATH.format(chunk_index=0, file_index=0)
        episodes.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(self.episodes), episodes)
        tasks = pd.DataFrame({"task_index": list(self.tasks.values())}, index=list(self.tasks))
        tasks.to_parquet(self.root / paths.TASKS_PATH)
        stats = as_json(aggregate(self.stats))
        (self.root / paths.STATS_PATH).write_text(json.dumps(stats, indent=2))
        info = {
            "codebase_version": paths.CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": len(self.episodes),
            "total_frames": self.frames,
            "total_tasks": len(self.tasks),
            "chunks_size": paths.CHUNKS_SIZE,
            "data_files_size_in_mb": paths.DATA_FILE_MB,
            "video_files_size_in_mb": paths.VIDEO_FILE_MB,
            "fps": self.fps,
            "splits": {"train": f"0:{len(self.episodes)}"},
            "data_path": paths.DATA_PATH,
            "video_path": paths.VIDEO_PATH if self.videos else None,
            "features": feature_info(self.features, self.fps, self.vcodec),
        }
        meta.mkdir(exist_ok=True)
        (self.root / paths.INFO_PATH).write_text(json.dumps(info, indent=4))
        return info
