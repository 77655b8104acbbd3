"""ROS recording → one mosaico sequence: plan, decode in batches, write behind a queue."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import attrs

from mosaico.bridges.ros.adapter import TopicAdapter
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.names import topic_metadata, topic_name
from mosaico.bridges.ros.progress import Progress
from mosaico.bridges.ros.registry import adapter_for
from mosaico.bridges.ros.sink import SequenceSink, TopicSink, TopicType
from mosaico.bridges.ros.source import RosSource, RosTopic
from mosaico.bridges.ros.topic_filter import TopicFilter

BATCH_MESSAGES = 2048
BATCH_BYTES = 32 << 20


@attrs.frozen
class TopicPlan:
    """One ROS topic to ingest: where it goes and how it is converted."""

    topic: RosTopic
    name: str
    adapter: TopicAdapter
    metadata: dict[str, Any]


@attrs.define
class IngestReport:
    """What an ingest did: messages per written topic, and skipped topics with the reason."""

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
    overrides, ROS topic glob → adapter name (see `registry.adapter_for`).
    """
    selected = TopicFilter(topics).select(source.topics)
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
            adapter = adapter_for(source.typestore, topic.msgtype, override)
            name = topic_name(ros_name)
        except (ValueError, KeyError) as exc:
            skipped[ros_name] = str(exc)
            continue
        if name in used:
            skipped[ros_name] = f"its mosaico name {name!r} is already taken by {used[name]}"
            continue
        used[name] = ros_name
        meta = topic_metadata(
            topic, adapter.name, source.typestore, source.ros_version, source.paths
        )
        plans.append(TopicPlan(topic, name, adapter, meta))
    if not plans:
        reasons = "; ".join(f"{t}: {r}" for t, r in skipped.items()) or "no topic selected"
        raise RosBridgeError(f"nothing to ingest ({reasons})")
    return plans, skipped


class _Writer:
    """Moves sink writes to one background thread behind a bounded queue, so uploading
    overlaps decoding while memory stays bounded. The first write error is re-raised."""

    def __init__(self, depth: int = 8) -> None:
        self._queue: queue.Queue[tuple[TopicSink, Any] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ros-ingest-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    item[0].write(item[1])
                except BaseException as exc:  # handed to the decoding thread
                    self._error = exc

    def put(self, sink: TopicSink, batch: Any) -> None:
        self._raise()
        self._queue.put((sink, batch))

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


@attrs.define
class _Pending:
    plan: TopicPlan
    sink: TopicSink
    times: list[int] = attrs.Factory(list)
    raws: list[bytes] = attrs.Factory(list)
    nbytes: int = 0


def ingest(
    paths: Sequence[str | Path],
    sink: SequenceSink,
    *,
    topics: Sequence[str] = (),
    adapters: Mapping[str, str] | None = None,
    batch_messages: int = BATCH_MESSAGES,
    batch_bytes: int = BATCH_BYTES,
    progress: Progress | bool = False,
) -> IngestReport:
    """Ingest one recording (one .bag/.db3/.mcap, a rosbag2 folder, or split ROS 1 bags)
    into `sink`, one mosaico topic per selected ROS topic.

    Everything that can be checked is checked before the first topic is created: bad files
    and patterns raise `RosBridgeError`; topics that cannot be typed are skipped and listed
    in the report. Errors while decoding propagate through `sink.__exit__`, which applies
    the session's error policy.
    """
    with RosSource(paths) as source:
        plans, skipped = plan(source, topics, adapters)
        report = IngestReport(written={p.topic.name: 0 for p in plans}, skipped=skipped)
        total = sum(p.topic.count for p in plans)
        bar = progress if isinstance(progress, Progress) else Progress(total, enabled=progress)
        start = time.monotonic()
        with sink:
            pending = {}
            for p in plans:
                kind = TopicType(p.adapter.tag, p.adapter.schema, p.adapter.serialization_format)
                pending[p.topic.name] = _Pending(p, sink.topic(p.name, p.metadata, kind))
            writer = _Writer()
            try:
                for ros_name, log_time, raw in source.messages([p.topic for p in plans]):
                    buf = pending[ros_name]
                    buf.times.append(log_time)
                    buf.raws.append(raw)
                    buf.nbytes += len(raw)
                    if len(buf.raws) >= batch_messages or buf.nbytes >= batch_bytes:
                        _flush(source, buf, writer, report, bar)
                for buf in pending.values():
                    _flush(source, buf, writer, report, bar)
            except BaseException:
                writer.stop()
                raise
            finally:
                bar.close()
            writer.close()
        report.seconds = time.monotonic() - start
        return report


def _flush(
    source: RosSource, buf: _Pending, writer: _Writer, report: IngestReport, bar: Progress
) -> None:
    if not buf.raws:
        return
    msgtype = buf.plan.topic.msgtype
    try:
        msgs = [source.deserialize(raw, msgtype) for raw in buf.raws]
        batch = buf.plan.adapter.to_batch(msgs, buf.times)
    except Exception as exc:
        raise RosBridgeError(f"topic {buf.plan.topic.name} ({msgtype}): {exc}") from exc
    writer.put(buf.sink, batch)
    n, nbytes = len(buf.raws), buf.nbytes
    report.written[buf.plan.topic.name] += n
    report.messages += n
    report.nbytes += nbytes
    bar.update(n, nbytes)
    buf.times, buf.raws, buf.nbytes = [], [], 0
