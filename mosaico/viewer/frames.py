"""Camera frames for the viewer: the record times of an image topic's frames, and one frame
as a picture a browser shows.

`Image` rows of raw pixels are encoded to PNG here (Pillow); PNG or JPEG bytes, in an
`Image` or a `CompressedImage`, are passed through untouched. Frame times are read with a
timestamps-only projection (the server reads no pixel column), so indexing an hour of
30 Hz video moves about 1 MB.

>>> times = frame_times(source)            # int64 ns, ascending
>>> frame = frame_at(source, int(times[10]))
>>> frame.media_type, frame.data[:4]
('image/png', b'\\x89PNG')
"""

from __future__ import annotations

import io

import attrs
import numpy as np

from mosaico.ml.pixels import CAMERA_TAGS, IMAGE, IMAGE_FIELDS, raw_rgb
from mosaico.ml.source import TIMESTAMP, TopicSource
from mosaico.viewer.errors import ViewerError

__all__ = ["MAX_FRAMES", "Frame", "frame_at", "frame_times"]

MAX_FRAMES = 2_000_000
_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg"}


@attrs.frozen
class Frame:
    """One camera frame ready for a browser: its bytes, their media type, its record time."""

    data: bytes
    media_type: str
    timestamp_ns: int


def _check_camera(source: TopicSource) -> None:
    if source.tag not in CAMERA_TAGS:
        raise ViewerError(
            f"topic {source.name!r} is of type {source.tag}, not an image type "
            f"({' or '.join(CAMERA_TAGS)})"
        )


def frame_times(
    source: TopicSource, start_ns: int | None = None, end_ns: int | None = None
) -> np.ndarray:
    """The record times (int64 ns, ascending) of the topic's frames in ``[start_ns, end_ns)``.

    Raises:
        ViewerError: not an image topic, or more than `MAX_FRAMES` frames in the range
            (name a shorter one).
    """
    _check_camera(source)
    parts, count = [], 0
    for batch in source.batches(start_ns, end_ns, fields=[]):
        count += batch.num_rows
        if count > MAX_FRAMES:
            raise ViewerError(
                f"topic {source.name!r} has more than {MAX_FRAMES:,} frames in this range; "
                "give a shorter range (start, end)"
            )
        parts.append(batch.column(TIMESTAMP).to_numpy())
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.fromarray(rgb).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _picture(tag: str, row: dict[str, object], topic: str) -> tuple[bytes, str]:
    fmt = str(row["format"]).lower()
    data = row["data"]
    if not isinstance(data, bytes):
        raise ViewerError(f"topic {topic!r}: this frame has no image bytes")
    if tag == IMAGE and fmt == "raw":
        return _png(raw_rgb(data, row, topic)), "image/png"
    if fmt not in _MEDIA:
        raise ViewerError(
            f"topic {topic!r}: a browser cannot show {fmt!r} frames (shown: raw, png, jpeg)"
        )
    return data, _MEDIA[fmt]


def frame_at(source: TopicSource, timestamp_ns: int) -> Frame:
    """The frame recorded exactly at ``timestamp_ns`` (one of `frame_times`), as PNG or JPEG.

    Raises:
        ViewerError: not an image topic, no frame at that time, or a frame a browser cannot
            show (an encoding or format not taken).
    """
    _check_camera(source)
    fields = list(IMAGE_FIELDS[source.tag])
    batches = list(source.batches(timestamp_ns, timestamp_ns + 1, fields=fields))
    rows = [row for batch in batches for row in batch.to_pylist()]
    if not rows:
        raise ViewerError(f"topic {source.name!r} has no frame at {timestamp_ns} ns")
    data, media = _picture(source.tag, rows[0], source.name)
    return Frame(data, media, int(timestamp_ns))

