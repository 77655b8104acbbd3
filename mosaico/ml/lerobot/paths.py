"""The file layout of a LeRobot v3.0 dataset: path templates and chunk/file numbering."""

from __future__ import annotations

import attrs

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder
DATA_FILE_MB = 100  # a data file takes episodes until it is this large
VIDEO_FILE_MB = 200  # so does a video file
_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + _FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + _FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + _FILE + ".parquet"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"


@attrs.frozen
class FileIndex:
    """A file's place: its chunk folder and its number in it."""

    chunk: int
    file: int
    chunks_size: int = CHUNKS_SIZE

    def next(self) -> FileIndex:
        """The file after this one (a new chunk after `chunks_size` files)."""
        if self.file + 1 < self.chunks_size:
            return attrs.evolve(self, file=self.file + 1)
        return attrs.evolve(self, chunk=self.chunk + 1, file=0)

    def data_path(self) -> str:
        """This data file's path in the dataset."""
        return DATA_PATH.format(chunk_index=self.chunk, file_index=self.file)

    def video_path(self, key: str) -> str:
        """This video file's path in the dataset, for camera `key`."""
        return VIDEO_PATH.format(video_key=key, chunk_index=self.chunk, file_index=self.file)
