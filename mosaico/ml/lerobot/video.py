"""One camera's MP4 files: frames streamed through a PyAV encoder, episodes concatenated.

Frames are encoded as they come (nothing of an episode is held). Each file gets frames at
``pts = n / fps``; an episode starts in a new file once the current one has reached the
size limit, at an episode boundary as LeRobot does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np

from mosaico.ml.errors import MLInputError
from mosaico.ml.lerobot.paths import FileIndex

# Our codec names -> (PyAV encoder, its options). g=2: a key frame every two frames, so a
# random access decodes at most one frame more (LeRobot encodes the same way).
CODECS: dict[str, tuple[str, dict[str, str]]] = {
    "h264": ("libx264", {"g": "2", "crf": "18", "preset": "veryfast"}),
    "av1": ("libsvtav1", {"g": "2", "crf": "30", "preset": "12"}),
}
PIX_FMT = "yuv420p"


def check_codec(vcodec: str) -> None:
    """Refuse a codec we do not offer or this PyAV build lacks.

    Raises:
        MLInputError: an unknown codec, or one PyAV cannot encode here.
    """
    import av

    if vcodec not in CODECS:
        raise MLInputError(f"unknown video codec {vcodec!r} (codecs: {', '.join(CODECS)})")
    if CODECS[vcodec][0] not in av.codecs_available:
        raise MLInputError(f"this PyAV build has no {CODECS[vcodec][0]} encoder for {vcodec!r}")


@attrs.frozen
class EpisodeVideo:
    """Where one episode's frames landed: the file and their time range in it (s)."""

    index: FileIndex
    from_timestamp: float
    to_timestamp: float


class CameraVideo:
    """The MP4 files of one camera feature (``videos/<key>/chunk-XXX/file-YYY.mp4``)."""

    def __init__(
        self, root: Path, key: str, shape: tuple[int, int, int], fps: int, vcodec: str,
        max_mb: float, chunks_size: int,
    ) -> None:  # fmt: skip
        self.root, self.key, self.fps, self.vcodec = root, key, fps, vcodec
        self.height, self.width = shape[0], shape[1]
        self._max_bytes = max_mb * 1024 * 1024
        self._index = FileIndex(0, 0, chunks_size)
        self._container: Any = None
        self._stream: Any = None
        self._frames = 0
        self._episode_start = 0

    @property
    def path(self) -> Path:
        """The file being written."""
        return self.root / self._index.video_path(self.key)

    def start_episode(self) -> None:
        """Begin an episode: in the current file, or in the next once this one is full."""
        if self._container is not None and self.path.stat().st_size >= self._max_bytes:
            self._close()
            self._index = self._index.next()
        if self._container is None:
            self._open()
        self._episode_start = self._frames

    def add(self, frame: np.ndarray) -> None:
        """Encode one RGB frame (``height x width x 3`` uint8).

        Raises:
            MLInputError: a frame of another size than the feature's.
        """
        import av

        if frame.shape[:2] != (self.height, self.width):
            raise MLInputError(
                f"{self.key}: a {frame.shape[1]}x{frame.shape[0]} frame in a "
                f"{self.width}x{self.height} video (every frame of a camera has one size)"
            )
        picture = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format=PIX_FMT)
        picture.pts = self._frames
        self._container.mux(self._stream.encode(picture))
        self._frames += 1

    def end_episode(self) -> EpisodeVideo:
        """The episode's place in its file."""
        return EpisodeVideo(self._index, self._episode_start / self.fps, self._frames / self.fps)

    def close(self) -> None:
        """Flush the encoder and close the file being written."""
        if self._container is not None:
            self._close()

    def _open(self) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        encoder, options = CODECS[self.vcodec]
        self._container = av.open(str(self.path), "w")
        stream = self._container.add_stream(encoder, rate=self.fps, options=dict(options))
        stream.width, stream.height, stream.pix_fmt = self.width, self.height, PIX_FMT
        self._stream = stream
        self._frames = 0

    def _close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()
        self._container = self._stream = None


def video_info(shape: tuple[int, int, int], fps: int, vcodec: str) -> dict[str, Any]:
    """The ``info`` entry of a video feature in ``meta/info.json``."""
    return {
        "video.height": shape[0],
        "video.width": shape[1],
        "video.codec": vcodec,
        "video.pix_fmt": PIX_FMT,
        "video.is_depth_map": False,
        "video.fps": fps,
        "video.channels": 3,
        "has_audio": False,
    }


def check_size(key: str, shape: tuple[int, int, int]) -> None:
    """yuv420p halves the chroma planes: the encoders need an even width and height.

    Raises:
        MLInputError: an odd width or height.
    """
    if shape[0] % 2 or shape[1] % 2:
        raise MLInputError(
            f"{key}: {shape[1]}x{shape[0]} images cannot be encoded as {PIX_FMT} video "
            "(width and height must be even)"
        )
