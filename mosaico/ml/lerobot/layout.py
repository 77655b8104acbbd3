"""One episode's plan: which synchronised columns make each feature, the tick range, and
the checks that run before anything is written.

A numeric feature's values are its topics' numeric leaves in a fixed order: the topics in
the order their streams are given, then each topic's selected fields in the topic's
schema order (depth first), a variable-length list giving one value per element (its
length is that of the topic's first message and must stay so). Their names, in
``info.json``, are the synchronised column names: ``<topic>.<field path>``, with
``_<i>`` for list elements (``/joints.positions_0``).

The ticks run at ``fps`` from the latest first message of the episode's topics to the
earliest last message: every frame lies within every topic's recording, so each feature
has a value at each frame (held or interpolated, never extrapolated past a topic's end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.ml.errors import MLInputError
from mosaico.ml.flatten import column_name, flat_schema, flatten_table
from mosaico.ml.grid import RateGrid
from mosaico.ml.lerobot.images import CAMERA_TAGS, IMAGE_FIELDS, FrameDecoder
from mosaico.ml.lerobot.spec import LeRobotStream
from mosaico.ml.policy import Hold, Interpolate, Policy, Stream
from mosaico.ml.source import TopicSource
from mosaico.ml.sync import Synchronizer
from mosaico.ml.tensors import tensor_able
from mosaico.protocol.topic_type import TIMESTAMP

# Fields of the standard mixins (header, covariance, variance): left out by default.
_MIXIN_FIELDS = frozenset({"header", "covariance", "covariance_type", "variance", "variance_type"})
ALIGN: dict[str, Policy] = {"hold": Hold(), "interpolate": Interpolate()}


@attrs.frozen
class Column:
    """One selected column of a numeric feature: its synchronised name and width (1, or
    the length of a variable-length list)."""

    name: str
    width: int
    is_list: bool


@attrs.frozen
class NumericFeature:
    """A vector feature (``observation.state``, ``action``, ...): float32 values."""

    name: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        """The name of each value, in order."""
        out: list[str] = []
        for c in self.columns:
            out += [f"{c.name}_{i}" for i in range(c.width)] if c.is_list else [c.name]
        return out

    @property
    def dim(self) -> int:
        """How many values a frame has."""
        return sum(c.width for c in self.columns)

    def values(self, table: pa.Table) -> np.ndarray:
        """The feature's ``(ticks, dim)`` float32 values in a synchronised table.

        Raises:
            MLInputError: a tick without a value, or a list of another length.
        """
        return np.concatenate([_column_values(table, c) for c in self.columns], axis=1)


def _column_values(table: pa.Table, column: Column) -> np.ndarray:
    col = table.column(column.name).combine_chunks()
    if col.null_count:
        at = table.column(TIMESTAMP)[pc.index(col.is_null(), True).as_py()].as_py()
        raise MLInputError(f"{column.name} has no value at {at} ns (a null in the data)")
    if not column.is_list:
        return np.asarray(pc.cast(col, pa.float32()).to_numpy(zero_copy_only=False))[:, None]
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
    if np.any(lengths != column.width):
        bad = int(lengths[lengths != column.width][0])
        raise MLInputError(
            f"{column.name} holds {bad} values in a message, {column.width} in the first "
            "(a feature has one length)"
        )
    flat = pc.cast(pc.list_flatten(col), pa.float32()).to_numpy(zero_copy_only=False)
    return np.asarray(flat).reshape(len(col), column.width)


@attrs.frozen
class CameraFeature:
    """A camera feature: one image topic, stored as video."""

    name: str
    topic: str
    tag: str
    shape: tuple[int, int, int]


Feature = NumericFeature | CameraFeature


@attrs.define
class Episode:
    """One sequence, planned: its synchroniser, tick range and features."""

    name: str
    task: str
    sync: Synchronizer
    start_ns: int
    end_ns: int
    frames: int
    features: list[Feature]


def _topic(sources: Mapping[str, TopicSource], spec: LeRobotStream, episode: str) -> TopicSource:
    source = sources.get(spec.topic)
    if source is None:
        known = ", ".join(sorted(sources)) or "none"
        raise MLInputError(f"sequence {episode!r} has no topic {spec.topic!r} (topics: {known})")
    if spec.camera and source.tag not in CAMERA_TAGS:
        raise MLInputError(
            f"stream {spec.topic}={spec.key}: topic {spec.topic!r} is {source.tag}, not an image "
            "(Image or CompressedImage); numeric topics go to state, action, "
            "environment_state or a dotted feature name"
        )
    if not spec.camera and source.tag in CAMERA_TAGS:
        raise MLInputError(
            f"stream {spec.topic}={spec.key}: topic {spec.topic!r} is an image ({source.tag}); "
            f"give it a camera key (e.g. {spec.topic}=front)"
        )
    return source


def _numeric(t: pa.DataType) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return tensor_able(t.value_type)
    return tensor_able(t)


def _is_mixin(column: str) -> bool:
    """Whether a flat column lies under a standard mixin's field (header, covariance, ...)."""
    return not _MIXIN_FIELDS.isdisjoint(column.split("."))


def _default_columns(source: TopicSource) -> list[str]:
    """Every numeric leaf of a topic outside the standard mixins' fields."""
    return [
        f.name
        for f in flat_schema(source.schema)
        if f.name != TIMESTAMP and _numeric(f.type) and not _is_mixin(f.name)
    ]


def _chosen_columns(sources: Mapping[str, TopicSource], spec: LeRobotStream) -> list[str]:
    """The flat columns a numeric stream gives (checked numeric)."""
    source = sources[spec.topic]
    if spec.fields is None:
        columns = _default_columns(source)
        if not columns:
            raise MLInputError(f"topic {spec.topic!r} ({source.tag}) has no numeric field")
        return columns
    # The synchroniser resolves field names and struct prefixes (and names what is missing).
    resolved = Synchronizer(sources, [Stream(spec.topic, fields=spec.fields)], rate_hz=1.0)
    types = {f.name: f.type for f in flat_schema(source.schema)}
    named = set(spec.fields)
    columns = []
    for c in resolved.plans[0].columns:
        if c not in named and (not _numeric(types[c]) or _is_mixin(c)):
            continue  # a leaf of a named struct: kept only as the default would keep it
        if not _numeric(types[c]):
            raise MLInputError(f"field {c!r} of topic {spec.topic!r} is {types[c]}, not numeric")
        columns.append(c)
    if not columns:
        raise MLInputError(f"fields {spec.fields} of topic {spec.topic!r} hold no numeric value")
    return columns


def _first_row(source: TopicSource, episode: str) -> pa.Table:
    batches = source.batches(None, None)
    try:
        for batch in batches:
            if batch.num_rows:
                return pa.Table.from_batches([batch.slice(0, 1)])
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
    raise MLInputError(f"sequence {episode!r}: topic {source.name!r} has no message")


def _list_width(first: pa.Table, topic: str, column: str) -> int:
    value = flatten_table(first).column(column)[0]
    if not value.is_valid:
        raise MLInputError(f"{topic}.{column} is null in the topic's first message")
    return len(value)


def _camera(
    sources: Mapping[str, TopicSource], spec: LeRobotStream, first: pa.Table
) -> CameraFeature:
    """A camera feature, its frame size read from the topic's first image."""
    source = sources[spec.topic]
    flat = flatten_table(first, prefix=spec.topic)
    frame = next(FrameDecoder(spec.topic, source.tag).frames(flat))
    return CameraFeature(spec.feature, spec.topic, source.tag, (frame.shape[0], frame.shape[1], 3))


@attrs.define
class _Builder:
    """Gathers an episode's features and the columns each topic must synchronise."""

    sources: Mapping[str, TopicSource]
    episode: str
    columns: dict[str, list[str]] = attrs.field(factory=dict)
    numeric: dict[str, list[Column]] = attrs.field(factory=dict)
    cameras: list[CameraFeature] = attrs.field(factory=list)

    def add(self, spec: LeRobotStream) -> None:
        source = _topic(self.sources, spec, self.episode)
        first = _first_row(source, self.episode)
        if spec.camera:
            if any(c.name == spec.feature for c in self.cameras):
                raise MLInputError(f"feature {spec.feature!r} is given two image topics")
            self.cameras.append(_camera(self.sources, spec, first))
            self._use(spec.topic, list(IMAGE_FIELDS[source.tag]))
            return
        chosen = _chosen_columns(self.sources, spec)
        self._use(spec.topic, chosen)
        types = {f.name: f.type for f in flat_schema(source.schema)}
        feature = self.numeric.setdefault(spec.feature, [])
        for c in chosen:
            listed = not tensor_able(types[c])
            width = _list_width(first, spec.topic, c) if listed else 1
            feature.append(Column(column_name(spec.topic, c), width, listed))

    def _use(self, topic: str, columns: list[str]) -> None:
        known = self.columns.setdefault(topic, [])
        known += [c for c in columns if c not in known]

    def features(self) -> list[Feature]:
        numeric: list[Feature] = [NumericFeature(n, tuple(c)) for n, c in self.numeric.items()]
        return numeric + list(self.cameras)


def _range(sync: Synchronizer, episode: str) -> tuple[int, int]:
    """The latest first message and the earliest last message of the topics."""
    firsts, lasts = {}, {}
    for topic in [p.stream.topic for p in sync.plans]:
        one = Synchronizer(sync.sources, [topic], rate_hz=1.0, timestamp=sync.timestamp)
        first, last = one.origin(None), one.last_key()
        if first is None or last is None:
            raise MLInputError(f"sequence {episode!r}: topic {topic!r} has no message")
        firsts[topic], lasts[topic] = first, last
    return max(firsts.values()), min(lasts.values())


def plan_episode(
    name: str,
    task: str,
    sources: Mapping[str, TopicSource],
    streams: Sequence[LeRobotStream],
    fps: int,
    align: str,
) -> Episode:
    """Plan one episode: features, the synchroniser, its ticks; reads each topic's first
    message (list lengths, frame sizes), no more.

    Raises:
        MLInputError: an unknown topic, a topic of the wrong kind for its key, a field
            that is missing or not numeric, an empty topic, or topics that never overlap.
    """
    builder = _Builder(sources, name)
    for spec in streams:
        builder.add(spec)
    cameras = {c.topic for c in builder.cameras}
    policy = ALIGN[align]
    sync_streams = [
        Stream(t, Hold() if t in cameras else policy, fields=tuple(cols))
        for t, cols in builder.columns.items()
    ]
    sync = Synchronizer(sources, sync_streams, rate_hz=float(fps))
    start, last = _range(sync, name)
    ticks, _ = RateGrid(float(fps), origin=start).window(start, last + 1, {})
    frames = len(ticks)
    if frames == 0:
        raise MLInputError(f"sequence {name!r}: its topics do not overlap in time (no frame)")
    return Episode(name, task, sync, start, last + 1, frames, builder.features())
