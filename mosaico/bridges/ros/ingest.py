"""ROS recording → one mosaico sequence: plan, then a pipeline of three threads.

Reading (`reader.BatchReader`: raw messages buffered per topic), decoding and conversion
(here, on the calling thread: numpy decoding of whole batches with `cdr.BatchDecoder`,
rosbags for the rest, then the topic's adapter) and upload (`_Writer`) overlap, each
handing on to the next through a bounded queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
from rosbags.typesys import Stores

from mosaico.bridges.ros.adapter import TopicAdapter
from mosaico.bridges.ros.cdr import BatchDecoder, Unsupported
from mosaico.bridges.ros.definitions import MissingDefinitionsError
from mosaico.bridges.ros.errors import RosBridgeError, TopicFailure
from mosaico.bridges.ros.generic import ros_rows
from mosaico.bridges.ros.names import ROS_KEY, topic_name
from mosaico.bridges.ros.progress import Progress
from mosaico.bridges.ros.reader import Batch, BatchReader, Limits
from mosaico.bridges.ros.sink import SequenceSink, TopicSink
from mosaico.bridges.ros.source import RosSource, RosTopic, open_source
from mosaico.bridges.ros.topic_filter import TopicFilter

BATCH_MESSAGES = 8192  # small messages: the per-batch work of the fast path stays small
BATCH_BYTES = 32 << 20


@attrs.frozen
class TopicPlan:
    """One ROS topic to ingest: where it goes and how it is converted.

    `name` is the mosaico topic name (see `names.topic_name`); `metadata` the topic's
    metadata, the `_ros_` entry that lets `export` write it back.
    """

    topic: RosTopic
    name: str
    adapter: TopicAdapter
    metadata: dict[str, Any]


@attrs.define
class IngestReport:
    """What an ingest did: messages per written topic, and skipped topics with the reason.

    A topic that failed midway is in both: `written` counts the messages it kept. Keys are
    ROS topic names. `messages` and `nbytes` (raw ROS bytes) total what the sink accepted;
    `seconds` is the wall time from opening the sink to the last write.
    """

    written: dict[str, int] = attrs.Factory(dict)
    skipped: dict[str, str] = attrs.Factory(dict)
    messages: int = 0
    nbytes: int = 0
    seconds: float = 0.0


def plan(
    source: RosSource,
    topics: Sequence[str] = (),
    adapters: Mapping[str, str] | None = None,
) -> tuple[list[TopicPlan], dict[str, str]]:
    """Select and type the topics; returns the plans and the skipped topics with reasons.

    `topics`: glob patterns on ROS topic names, `!` excludes. `adapters`: per-topic
    overrides, ROS topic glob → adapter name (see `registry.adapter_for`). Nothing is
    written: this is what `ingest` does first, and a dry run.

    Raises:
        MissingDefinitionsError: selected topics of types that have no definition (in the
            recording, the `msg` files or the typestore), all named at once.
        RosBridgeError: a topic pattern is empty or matches no topic, or no topic is left
            to ingest.

    >>> # a recording of /camera/image_raw, /camera/image_raw/compressed and /imu
    >>> with RosSource(["run.mcap"]) as source:
    ...     plans, skipped = plan(source, ["/camera/*", "!*/compressed"])
    >>> [(p.topic.name, p.name, p.adapter.topic_type.tag) for p in plans]
    [('/camera/image_raw', 'camera/image_raw', 'Image')]
    """
    selected = TopicFilter(topics).select(source.topics)
    _check_definitions([source.topics[name] for name in selected])
    plans: list[TopicPlan] = []
    skipped: dict[str, str] = {}
    used: dict[str, str] = {}
    for ros_name in selected:
        topic = source.topics[ros_name]
        if topic.problem:
            skipped[ros_name] = topic.problem
            continue
        override = next(
            (a for pattern, a in (adapters or {}).items() if fnmatchcase(ros_name, pattern)), None
        )
        try:
            adapter = source.adapter_for(topic, override)
            name = topic_name(ros_name)
        except (ValueError, KeyError) as exc:
            skipped[ros_name] = str(exc)
            continue
        if name in used:
            skipped[ros_name] = f"its mosaico name {name!r} is already taken by {used[name]}"
            continue
        used[name] = ros_name
        meta = source.topic_metadata(topic, adapter.name)
        plans.append(TopicPlan(topic, name, adapter, meta))
    if not plans:
        reasons = "; ".join(f"{t}: {r}" for t, r in skipped.items()) or "no topic selected"
        raise RosBridgeError(f"nothing to ingest ({reasons})")
    return plans, skipped


def _check_definitions(topics: Sequence[RosTopic]) -> None:
    """Raise one error naming every missing type of `topics`, before anything is written."""
    needed: dict[str, list[str]] = {}
    nested_in: dict[str, str] = {}
    for topic in topics:
        for name, parent in topic.missing:
            needed.setdefault(name, []).append(topic.name)
            if parent is not None:
                nested_in.setdefault(name, parent)
    if needed:
        raise MissingDefinitionsError(needed, nested_in)


_Batch = tuple[pa.RecordBatch, int]  # a converted batch and the bytes of its ROS messages


class _Writer:
    """Ingest's last stage: sink writes on one background thread behind a bounded queue,
    so uploading overlaps decoding while memory stays bounded.

    Items run in order: a batch is written, a reason string fails its topic. A `TopicFailure` from a
    write fails that topic only; any other error stops all writes and is re-raised on the
    decoding thread. The report's counts are of batches the sink accepted.
    """

    def __init__(self, report: IngestReport, depth: int = 2) -> None:
        self._queue: queue.Queue[tuple[_Pending, _Batch | str] | None] = queue.Queue(depth)
        self._report = report
        self._error: BaseException | None = None
        self.failed: dict[str, str] = {}  # ROS topic → reason; read by the decoding thread
        self._thread = threading.Thread(target=self._run, name="ros-ingest-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            buf, payload = item
            if self._error is not None or buf.plan.topic.name in self.failed:
                continue
            try:
                if isinstance(payload, str):
                    self._fail(buf, payload)
                    continue
                batch, nbytes = payload
                try:
                    buf.sink.write(batch)
                except TopicFailure as exc:
                    self._fail(buf, f"a batch was rejected: {exc}")
                    continue
                report = self._report
                report.written[buf.plan.topic.name] += batch.num_rows
                report.messages += batch.num_rows
                report.nbytes += nbytes
            except BaseException as exc:  # handed to the decoding thread
                self._error = exc

    def _fail(self, buf: _Pending, reason: str) -> None:
        name = buf.plan.topic.name
        kept = self._report.written[name]
        self.failed[name] = reason = f"{reason}; its first {kept} messages are kept"
        buf.sink.fail(f"ROS topic {name} ({buf.plan.topic.msgtype}): {reason}")

    def put(self, buf: _Pending, payload: _Batch | str) -> None:
        self._raise()
        self._queue.put((buf, payload))

    def stop(self) -> None:
        """Drain and end the thread without raising (an error is already in flight)."""
        self._queue.put(None)
        self._thread.join()

    def close(self) -> None:
        self.stop()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


@attrs.frozen
class _Pending:
    """A topic being ingested: its plan, sink and fast decoder (None: rosbags decodes)."""

    plan: TopicPlan
    sink: TopicSink
    decoder: BatchDecoder | None


def ingest(
    paths: Sequence[str | Path],
    sink: SequenceSink,
    *,
    topics: Sequence[str] = (),
    adapters: Mapping[str, str] | None = None,
    msg: Sequence[str | Path] = (),
    typestore: str | Stores | Sequence[str | Stores] | None = None,
    batch_messages: int = BATCH_MESSAGES,
    batch_bytes: int = BATCH_BYTES,
    progress: Progress | bool = False,
) -> IngestReport:
    """Ingest one recording (one .bag/.db3/.mcap, a rosbag2 folder, or split ROS 1 bags)
    into `sink`, one mosaico topic per selected ROS topic.

    Everything that can be checked is checked before the first topic is created: bad files
    and patterns raise `RosBridgeError`; topics that cannot be typed are skipped and listed
    in the report. A topic whose messages fail during ingest (a message that does not
    decode or convert, a batch the sink rejects) is failed alone: it keeps every message
    before the first bad one (a rejected batch is dropped whole), gets an `error`
    notification through `TopicSink.fail`, is listed in `report.skipped` (and its kept
    messages in `report.written`), and the rest of the recording ingests. Other errors
    (reading the file, the sink's I/O) propagate through `sink.__exit__`, which applies the
    session's error policy.

    Args:
        paths: the recording's files: one .db3/.mcap file or rosbag2 folder, or one or
            more ROS 1 .bag files read as one recording.
        sink: where the sequence goes (`ClientSequence`, `MemorySequence`).
        topics: glob patterns on ROS topic names; `!pattern` excludes; none keeps all.
        adapters: ROS topic glob → adapter name, `"generic"` or a ROS type with a standard
            adapter (see `registry.adapter_for`).
        msg: `.msg`/`.idl` files or folders (`PKG/msg/NAME.msg`) defining the types the
            recording does not (see `RosSource`).
        typestore: rosbags store names (`ros2_humble`, ...) for standard types the
            recording does not define; default `ros1_noetic` / `ros2_humble`.
        batch_messages: a topic's buffered messages become one batch when they reach
            this count (default 8192), or
        batch_bytes: when their raw size reaches this many bytes (default 32 MiB).
        progress: True draws a progress line on a terminal; or a `Progress` to update.

    Raises:
        MissingDefinitionsError: selected topics whose types have no definition.
        RosBridgeError: bad files, a pattern that matches nothing, or nothing to ingest.

    >>> from mosaico.bridges.ros.client_sink import ClientSequence
    >>> from mosaico.client import MosaicoClient
    >>> with MosaicoClient.local("data") as client:
    ...     report = ingest(["run.mcap"], ClientSequence(client, "run"), topics=["/imu*"])
    >>> report.written, report.skipped
    ({'/imu': 12000}, {})
    """
    with open_source(paths, msg=msg, typestore=typestore) as source:
        plans, skipped = plan(source, topics, adapters)
        report = IngestReport(written={p.topic.name: 0 for p in plans}, skipped=skipped)
        total = sum(p.topic.count for p in plans)
        bar = progress if isinstance(progress, Progress) else Progress(total, enabled=progress)
        _record_originals(source, plans)
        start = time.monotonic()
        with sink:
            pending = {}
            for p in plans:
                topic = sink.topic(p.name, p.metadata, p.adapter.topic_type)
                pending[p.topic.name] = _Pending(p, topic, _decoder(source, p))
            _run(source, pending, report, Limits(batch_messages, batch_bytes), bar)
        report.seconds = time.monotonic() - start
        return report


def _record_originals(source: RosSource, plans: Sequence[TopicPlan]) -> None:
    """Topic metadata is written before any message is read: peek at each topic whose
    adapter may lose values, and record what its first message holds."""
    for p in plans:
        first = source.first(p.topic) if p.adapter.keeps_originals else None
        if first is not None and (originals := p.adapter.originals(first)):
            p.metadata[ROS_KEY]["originals"] = originals


def _decoder(source: RosSource, p: TopicPlan) -> BatchDecoder | None:
    if not p.adapter.ros_layout:  # e.g. protobuf / JSON channels of an MCAP file
        return None
    try:
        return BatchDecoder.for_type(source.typestore, p.topic.msgtype, source.ros_version)
    except (Unsupported, KeyError):
        return None


def _run(
    source: RosSource,
    pending: Mapping[str, _Pending],
    report: IngestReport,
    limits: Limits,
    bar: Progress,
) -> None:
    """The pipeline: read (`BatchReader`) → decode and convert (this thread) → write."""
    dead: set[str] = set()  # failed topics: their remaining messages are dropped undecoded
    writer = _Writer(report)
    reader = BatchReader(
        source,
        [p.plan.topic for p in pending.values()],
        limits,
        bar,
        dropped=lambda name: name in dead or name in writer.failed,
    )
    try:
        for batch in reader:
            buf = pending[batch.topic]
            if batch.topic in dead or batch.topic in writer.failed:
                dead.add(batch.topic)
                continue
            good, failure = _convert(source, buf, batch)
            if good is not None:
                writer.put(buf, good)
            if failure is not None:
                writer.put(buf, failure)
                dead.add(batch.topic)
    except BaseException:
        writer.stop()
        raise
    finally:
        reader.close()
        bar.close()
    writer.close()
    report.skipped.update(writer.failed)


def _to_batch(source: RosSource, p: TopicPlan, raws: list[bytes], times: Sequence[int]) -> Any:
    """The source's decoding (rosbags), one message at a time, then the adapter."""
    msgs = [source.deserialize(raw, p.topic.msgtype) for raw in raws]
    if p.adapter.ros_layout:
        return p.adapter.to_batch(ros_rows(source.typestore, p.topic.msgtype, msgs), times)
    return p.adapter.to_batch(msgs, times)


def _fast(buf: _Pending, batch: Batch) -> _Batch | None:
    """The batch decoded with numpy and converted; None when it is left to rosbags."""
    if buf.decoder is None:
        return None
    try:
        rows = buf.decoder.decode(batch.raws)
        return buf.plan.adapter.to_batch(rows, batch.times), batch.nbytes
    except Exception:  # noqa: BLE001 - rosbags decides, and names the first bad message
        return None


def _convert(source: RosSource, buf: _Pending, batch: Batch) -> tuple[_Batch | None, str | None]:
    """The converted batch and None; when its messages do not convert, the batch of those
    before the first bad message (None if there are none) and the reason."""
    fast = _fast(buf, batch)
    if fast is not None:
        return fast, None
    p, raws, times = buf.plan, batch.messages(), batch.times
    try:
        return (_to_batch(source, p, raws, times), batch.nbytes), None
    except Exception as exc:  # noqa: BLE001 - any decoding error is confined to the topic
        error = exc
    # Rare path: one message at a time, to find the first bad one and keep those before.
    for i in range(len(raws)):
        try:
            _to_batch(source, p, raws[i : i + 1], times[i : i + 1])
        except Exception as exc:  # noqa: BLE001
            good = (_to_batch(source, p, raws[:i], times[:i]), sum(map(len, raws[:i])))
            reason = f"message {batch.seen + i + 1} (log time {times[i]} ns) does not convert"
            return good if i else None, f"{reason}: {type(exc).__name__}: {exc}"
    first, last = batch.seen + 1, batch.seen + len(raws)
    return None, f"messages {first} to {last} do not convert together: {error}"
