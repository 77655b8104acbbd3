"""Export sequences as a LeRobot dataset (v3.0): one episode per sequence, frames on a
``fps`` grid of the `Synchronizer`, cameras as MP4 video. Needs the ``lerobot`` extra (PyAV).

Each `LeRobotStream` (``TOPIC=KEY[:FIELDS]``, see `mosaico.ml.lerobot.spec`) puts a topic
into a feature: numeric topics into float32 vectors (``observation.state``, ``action``,
...), image topics (`Image`, `CompressedImage`) into videos (``observation.images.<name>``).
Numeric topics are held (the last message at or before each frame) or interpolated
(``align="interpolate"``: float fields, quaternions by slerp; integers and lists are held);
cameras are held. An episode spans the ticks from the latest first message of its topics to
the earliest last one (`mosaico.ml.lerobot.layout`).

Every input is checked, and each topic's first message read, before anything is written;
the dataset is built in a hidden folder beside ``out`` and renamed to ``out`` once whole.

>>> report = export_lerobot(
...     [client.sequence_handler("run-1"), client.sequence_handler("run-2")], "datasets/pick",
...     fps=30, streams=["/camera/front=front", "/joints=state:positions", "/cmd=action"],
...     task="pick the cube",
... )
>>> report.frames, report.features["observation.state"]
(1800, 'float32[7]')
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from mosaico.extras import require
from mosaico.ml.errors import MLInputError
from mosaico.ml.lerobot.dataset import DatasetWriter
from mosaico.ml.lerobot.layout import ALIGN, CameraFeature, Episode, Feature, plan_episode
from mosaico.ml.lerobot.spec import LeRobotStream
from mosaico.ml.lerobot.video import check_codec, check_size
from mosaico.ml.source import TopicSource

__all__ = ["LeRobotReport", "LeRobotStream", "export_lerobot"]

EpisodeInput = Any
"""A `SequenceHandler`, or ``(name, sources)`` / ``(name, sources, metadata)``."""


@attrs.frozen
class LeRobotReport:
    """What an export wrote: the dataset folder, its episodes and frames, each feature's
    type (``float32[7]``, ``video 640x480``), and the time it took."""

    path: Path
    episodes: int
    frames: int
    fps: int
    features: dict[str, str]
    seconds: float


def _describe(f: Feature) -> str:
    if isinstance(f, CameraFeature):
        return f"video {f.shape[1]}x{f.shape[0]}"
    return f"float32[{f.dim}]"


def _layout(f: Feature) -> tuple[Any, ...]:
    """What must agree between the episodes of one dataset."""
    if isinstance(f, CameraFeature):
        return (f.name, f.shape)
    return (f.name, tuple(f.names))


def _check_args(fps: object, out: Path, align: str, streams: Sequence[LeRobotStream]) -> None:
    if isinstance(fps, bool) or not isinstance(fps, int) or fps <= 0:
        raise MLInputError(f"fps must be an integer > 0 (LeRobot's frame rate), got {fps!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MLInputError(f"{out} exists and is not an empty folder")
    if align not in ALIGN:
        raise MLInputError(f"unknown align {align!r} (choices: {', '.join(ALIGN)})")
    if not streams:
        raise MLInputError("no stream to export (give TOPIC=KEY streams)")
    seen: set[tuple[str, str]] = set()
    for s in streams:
        if (s.topic, s.feature) in seen:
            raise MLInputError(f"stream {s.topic}={s.key} given twice")
        seen.add((s.topic, s.feature))


def _source(
    item: EpisodeInput, streams: Sequence[LeRobotStream]
) -> tuple[str, Mapping[str, TopicSource], Mapping[str, Any]]:
    """An episode's name, sources and metadata."""
    if isinstance(item, tuple):
        name, sources, *rest = item
        return name, sources, rest[0] if rest else {}
    from mosaico.ml.client_source import sequence_sources

    topics = list(dict.fromkeys(s.topic for s in streams))
    return item.name, sequence_sources(item, topics), item.user_metadata


def _task(name: str, metadata: Mapping[str, Any], task: str | None, task_key: str | None) -> str:
    if task is not None:
        return task
    if task_key is None:
        return name
    value = metadata.get(task_key)
    if not isinstance(value, str) or not value:
        raise MLInputError(f"sequence {name!r}: metadata key {task_key!r} holds no task text")
    return value


def _plan(
    episodes: Sequence[EpisodeInput], streams: Sequence[LeRobotStream], fps: int, align: str,
    task: str | None, task_key: str | None,
) -> list[Episode]:  # fmt: skip
    """Every episode planned and checked against the first."""
    if not episodes:
        raise MLInputError("no sequence to export")
    planned: list[Episode] = []
    for item in episodes:
        name, sources, metadata = _source(item, streams)
        text = _task(name, metadata, task, task_key)
        e = plan_episode(name, text, sources, streams, fps, align)
        if planned and [_layout(f) for f in e.features] != [
            _layout(f) for f in planned[0].features
        ]:
            raise MLInputError(
                f"sequence {name!r} has other features than {planned[0].name!r}: "
                + ", ".join(f"{f.name} {_describe(f)}" for f in e.features)
                + " vs "
                + ", ".join(f"{f.name} {_describe(f)}" for f in planned[0].features)
            )
        planned.append(e)
    return planned


def export_lerobot(
    episodes: Sequence[EpisodeInput],
    out: str | os.PathLike[str],
    *,
    fps: int,
    streams: Sequence[LeRobotStream | str],
    task: str | None = None,
    task_key: str | None = None,
    align: str = "hold",
    vcodec: str = "h264",
    robot_type: str | None = None,
) -> LeRobotReport:
    """Write `episodes` (one per sequence) as a LeRobot v3.0 dataset in the folder `out`.

    Args:
        episodes: `SequenceHandler`s, or ``(name, sources)`` / ``(name, sources,
            metadata)`` tuples of `TopicSource`s by topic name.
        out: the dataset folder; it must not exist or be empty.
        fps: the frame rate (an integer: LeRobot's ``fps``).
        streams: `LeRobotStream`s or their ``TOPIC=KEY[:FIELDS]`` text.
        task: every episode's task text; default: `task_key`'s value, else the sequence name.
        task_key: a sequence metadata key holding the task text.
        align: ``hold`` (default) or ``interpolate`` for numeric topics.
        vcodec: ``h264`` (default) or ``av1``.
        robot_type: ``info.json``'s ``robot_type``.

    Raises:
        MLInputError: bad input (see the module doc), found before anything is written.
        MissingExtraError: a camera to encode and PyAV is not installed (the ``lerobot``
            extra).
    """
    specs = [LeRobotStream.parse(s) if isinstance(s, str) else s for s in streams]
    path = Path(out)
    _check_args(fps, path, align, specs)
    if any(s.camera for s in specs):
        require("lerobot", "av")  # cameras only: a numbers-only export needs no PyAV
        check_codec(vcodec)
    began = time.monotonic()
    planned = _plan(episodes, specs, fps, align, task, task_key)
    features = planned[0].features
    for f in features:
        if isinstance(f, CameraFeature):
            check_size(f.name, f.shape)
    partial = path.parent / f".{path.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    writer = DatasetWriter(partial, features, fps, vcodec, robot_type)
    try:
        for e in planned:
            writer.write(e)
        writer.finish()
    except BaseException:
        writer.close()
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if path.exists():
        path.rmdir()  # empty, checked above
    partial.rename(path)
    return LeRobotReport(
        path, len(planned), writer.frames, fps, {f.name: _describe(f) for f in features},
        time.monotonic() - began,
    )  # fmt: skip
