"""Camera topics: their tags and the fields a frame needs (`IMAGE_FIELDS`), and raw pixels
as RGB, the encodings of `Image` rows that need no codec.

Taken: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8`` and ``mono8`` (grey, given three equal
channels). Used by the LeRobot export and the viewer's frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mosaico.ml.errors import MLInputError

__all__ = ["CAMERA_TAGS", "COMPRESSED", "IMAGE", "IMAGE_FIELDS", "RAW_ENCODINGS", "raw_rgb"]

IMAGE, COMPRESSED = "Image", "CompressedImage"
CAMERA_TAGS = (IMAGE, COMPRESSED)
IMAGE_FIELDS: Mapping[str, tuple[str, ...]] = {
    IMAGE: ("data", "format", "width", "height", "stride", "encoding"),
    COMPRESSED: ("data", "format"),
}

# Raw encoding -> (bytes per pixel, the channels giving R, G, B).
RAW_ENCODINGS = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, (0, 0, 0)),
}


def raw_rgb(data: bytes, row: Mapping[str, Any], topic: str) -> np.ndarray:
    """Raw pixels (an `Image` row of format raw: its ``width``, ``height``, ``stride`` and
    ``encoding``) as a ``(height, width, 3)`` uint8 RGB array, honouring the row stride.

    Raises:
        MLInputError: an encoding not taken (`RAW_ENCODINGS`), or too few bytes.
    """
    encoding = row["encoding"]
    if encoding not in RAW_ENCODINGS:
        known = ", ".join(RAW_ENCODINGS)
        raise MLInputError(f"topic {topic!r}: image encoding {encoding!r} is not taken ({known})")
    size, channels = RAW_ENCODINGS[encoding]
    width, height, stride = row["width"], row["height"], row["stride"]
    if width <= 0 or height <= 0 or stride < width * size or len(data) < stride * height:
        raise MLInputError(
            f"topic {topic!r}: {len(data)} bytes do not hold a {width}x{height} {encoding} "
            f"image of stride {stride}"
        )
    rows = np.frombuffer(data, np.uint8, count=stride * height).reshape(height, stride)
    pixels = rows[:, : width * size].reshape(height, width, size)
    return np.ascontiguousarray(pixels[:, :, list(channels)])
