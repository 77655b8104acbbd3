"""Camera frames as RGB pixels: `Image` (raw pixels or PNG) and `CompressedImage` (JPEG, PNG).

Raw encodings taken: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` and ``mono8`` (grey, given
three equal channels); containers decoded with PyAV: PNG and JPEG. Frames come out as
``(height, width, 3)`` uint8 arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from mosaico.ml.errors import MLInputError
from mosaico.ml.flatten import column_name
from mosaico.ml.pixels import CAMERA_TAGS, COMPRESSED, IMAGE, IMAGE_FIELDS, raw_rgb

__all__ = ["CAMERA_TAGS", "COMPRESSED", "IMAGE", "IMAGE_FIELDS", "FrameDecoder", "decode"]

_CODECS = {"png": "png", "jpeg": "mjpeg", "jpg": "mjpeg"}


def _decode_container(data: bytes, fmt: str, topic: str) -> np.ndarray:
    """A PNG or JPEG image as RGB pixels, decoded by PyAV."""
    import av

    codec = _CODECS.get(fmt)
    if codec is None:
        raise MLInputError(
            f"topic {topic!r}: cannot decode image format {fmt!r} (formats: jpeg, jpg, png, raw)"
        )
    context: Any = av.CodecContext.create(codec, "r")
    try:
        frames = context.decode(av.Packet(data)) + context.decode(None)
    except av.error.FFmpegError as exc:
        raise MLInputError(f"topic {topic!r}: a {fmt} image does not decode: {exc}") from None
    if not frames:
        raise MLInputError(f"topic {topic!r}: a {fmt} image decodes to no picture")
    rgb: np.ndarray = frames[0].to_ndarray(format="rgb24")
    return rgb


def decode(tag: str, row: Mapping[str, Any], topic: str) -> np.ndarray:
    """One message of an image topic (its `IMAGE_FIELDS`) as ``(height, width, 3)`` uint8.

    Raises:
        MLInputError: an encoding or format not taken, or bytes that do not decode.
    """
    fmt = str(row["format"]).lower()
    if tag == IMAGE and fmt == "raw":
        return raw_rgb(row["data"], row, topic)
    return _decode_container(row["data"], fmt, topic)


class FrameDecoder:
    """Decodes the frames of one camera column of synchronised tables; a frame held over
    several ticks (the same bytes) is decoded once."""

    def __init__(self, topic: str, tag: str) -> None:
        self.topic = topic
        self.tag = tag
        self._last: tuple[bytes, np.ndarray] | None = None

    def frames(self, table: pa.Table) -> Iterator[np.ndarray]:
        """The RGB frame at each tick of `table` (its `<topic>.<field>` columns).

        Raises:
            MLInputError: a tick without an image, or as `decode`.
        """
        names = IMAGE_FIELDS[self.tag]
        columns = [table.column(column_name(self.topic, f)) for f in names]
        for i in range(table.num_rows):
            data = columns[0][i].as_py()
            if data is None:
                raise MLInputError(f"topic {self.topic!r}: no image at tick {i}")
            if self._last is not None and self._last[0] == data:
                yield self._last[1]
                continue
            row = {f: c[i].as_py() for f, c in zip(names[1:], columns[1:])}
            row["data"] = data
            frame = decode(self.tag, row, self.topic)
            self._last = (data, frame)
            yield frame
