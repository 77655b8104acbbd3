"""A mosaico sequence → a ROS recording (.bag, rosbag2 sqlite3 or mcap)."""

from __future__ import annotations

import heapq
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import (
    Stores,
    TypesysError,
    get_typestore,
)
from rosbags.typesys.base import Nodetype
from rosbags.typesys.store import Typestore

from mosaico.bridges.ros.adapter import ADAPTERS, TopicAdapter
from mosaico.bridges.ros.compression import Compression, choose, configure
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.generic import GENERIC, GenericAdapter
from mosaico.bridges.ros.messages import RosFactory
from mosaico.bridges.ros.names import MCAP_KEY, ROS_KEY
from mosaico.bridges.ros.progress import Progress
from mosaico.bridges.ros.qos import ros1_header, ros2_profiles
from mosaico.bridges.ros.source import STOCK, parse_definition
from mosaico.bridges.ros.typedefs import element
from mosaico.errors import UnknownNameError
from mosaico.protocol.topic_type import TIMESTAMP

FORMATS = {"bag": 1, "db3": 2, "mcap": 2}


@attrs.frozen
class ExportTopic:
    """A stored topic to export: mosaico name, user metadata, tag and its record batches.

    `batches` (topic schema, `timestamp_ns` first, in stored order) is iterated once by
    `export`; `count` is its number of rows when known (for the progress line).
    `client_sink.stored_topics` builds these from a stored sequence.
    """

    name: str
    metadata: dict[str, Any]
    tag: str
    batches: Iterable[pa.RecordBatch]
    count: int | None = None


@attrs.define
class ExportReport:
    """What an export did: messages written per topic, and skipped topics with the reason.

    Both are keyed by mosaico topic name. `compression` is the compression written
    (`Compression`), `nbytes` the size of the serialized messages and `seconds` the wall
    time of writing them.
    """

    written: dict[str, int] = attrs.Factory(dict)
    skipped: dict[str, str] = attrs.Factory(dict)
    compression: Compression = Compression()
    nbytes: int = 0
    seconds: float = 0.0


@attrs.frozen
class _Plan:
    topic: ExportTopic
    ros_topic: str
    msgtype: str
    adapter: TopicAdapter
    connection: dict[str, Any]  # QoS keywords of the writer's `add_connection`


def default_ros_type(tag: str) -> str | None:
    """The ROS type a topic of standard tag `tag` exports to when it was not ingested from
    ROS: the only adapter of that tag, else its plain `…Stamped` variant; None when no
    standard adapter has that tag.

    >>> default_ros_type("Vector3d")
    'geometry_msgs/msg/Vector3Stamped'
    """
    candidates = sorted(t for t, a in ADAPTERS.items() if tag == a.ontology.TAG)
    if len(candidates) > 1:
        stamped = [t for t in candidates if t.endswith("Stamped") and "Covariance" not in t]
        candidates = stamped or candidates
    return candidates[0] if candidates else None


def _complete(types: dict[str, Any], msgtype: str, stock: Typestore) -> None:
    """Adds the stock definition of every referenced type the stored text lacks."""
    while missing := {msgtype, *_references(types)} - set(types):
        for name in missing:
            if name not in stock.fielddefs:
                raise UnknownNameError(f"type {name} has no definition")
            types[name] = stock.fielddefs[name]


def _references(types: dict[str, Any]) -> set[str]:
    refs = set()
    for _, fields in types.values():
        for _, desc in fields:
            node, detail = element(desc)
            if node == Nodetype.NAME:
                refs.add(detail)
    return refs


def _no_ros_type(topic: ExportTopic) -> str:
    """Why a topic without `_ros_` metadata and without a standard tag does not export."""
    mcap = topic.metadata.get(MCAP_KEY)
    if isinstance(mcap, dict):
        return (
            f"no ROS type known for tag {topic.tag!r}: it was ingested from an MCAP "
            f"{mcap.get('message_encoding', '')} channel with the generic adapter, and export "
            "writes ROS messages only (exporting protobuf or JSON channels is not supported)"
        )
    return f"no ROS type known for tag {topic.tag!r}"


def _typestore(
    topics: Sequence[ExportTopic], version: int
) -> tuple[Typestore, dict[str, tuple[str, str]], dict[str, str]]:
    """A typestore for all topics; returns it, name → (ROS topic, type), and skip reasons.

    Stored definitions are used as they are when the recording keeps its ROS generation;
    across generations the standard types come from the stock definitions of the target
    (e.g. no `seq` in a ROS 2 header) and only the others from the stored text.
    """
    stock = get_typestore(STOCK[version])
    store = get_typestore(Stores.EMPTY)
    chosen: dict[str, tuple[str, str]] = {}
    skipped: dict[str, str] = {}
    for topic in topics:
        ros = topic.metadata.get(ROS_KEY)
        try:
            if ros:
                msgtype, ros_topic = ros["type"], ros["topic"]
                types = parse_definition(
                    ros["definition"], ros.get("definition_format", "msg"), msgtype
                )
                if ros.get("ros_version") != version:
                    types = {k: v for k, v in types.items() if k not in stock.fielddefs}
            else:
                msgtype, ros_topic = default_ros_type(topic.tag) or "", "/" + topic.name.lstrip("/")
                if not msgtype:
                    raise RosBridgeError(_no_ros_type(topic))
                types = {}
            _complete(types, msgtype, stock)
            store.register({k: v for k, v in types.items() if k not in store.fielddefs})
        except (RosBridgeError, TypesysError, KeyError, ValueError) as exc:
            skipped[topic.name] = f"cannot resolve its ROS type: {exc}"
            continue
        chosen[topic.name] = (ros_topic, msgtype)
    return store, chosen, skipped


def export(
    topics: Sequence[ExportTopic],
    out: str | Path,
    fmt: str,
    *,
    compression: str | None = None,
    progress: Progress | bool = False,
) -> ExportReport:
    """Write the topics to a new ROS recording at `out`.

    `fmt`: `bag` (ROS 1 file), `db3` or `mcap` (rosbag2 folder with that storage; when `out`
    ends in `.db3` / `.mcap`, just the storage file). Each topic is written back with the
    ROS type it was ingested from, or the default type of its tag, and with its recorded
    QoS (ROS 2 offered profiles, ROS 1 latching; see `qos.py`); the log time is the
    record's `timestamp_ns`. The output appears atomically, only when complete.

    A topic whose ROS type cannot be resolved (no `_ros_` metadata and no default type
    for its tag, or a stored definition that does not parse) or whose QoS metadata is
    malformed is skipped and listed in the report; the others are written.

    Args:
        topics: the topics to write (see `client_sink.stored_topics`).
        out: the new file or folder; it must not exist.
        fmt: `bag`, `db3` or `mcap`; a ROS 2 source exported as `bag` gets the ROS 1 stock
            definitions of its standard types, and the other way round.
        compression: `none`, `zstd`, `lz4` or `bz2`, as the target holds them (ROS 1: lz4,
            bz2 chunks; rosbag2: zstd; a bare .mcap file: zstd chunks; a bare .db3 file:
            none). By default the recording's own compression (`_ros_.compression`, the most
            common one among the topics), or the target's nearest one.
        progress: True draws a progress line on a terminal; or a `Progress` to update.

    Raises:
        RosBridgeError: an unknown `fmt` or `compression`, a compression the target cannot
            hold, an existing `out`, no topic left to export, or a row that does not convert
            to its message.

    >>> from mosaico.bridges.ros.client_sink import stored_topics
    >>> from mosaico.client import MosaicoClient
    >>> with MosaicoClient.connect("localhost") as client:
    ...     report = export(stored_topics(client, "run"), "run.bag", "bag")
    >>> report.skipped, str(report.compression)
    ({}, 'lz4 chunks')
    """
    if fmt not in FORMATS:
        raise RosBridgeError(f"unknown export format {fmt!r}; expected one of {sorted(FORMATS)}")
    out = Path(out)
    if out.exists():
        raise RosBridgeError(f"{out} already exists")
    version = FORMATS[fmt]
    target = f"{fmt} file" if version == 2 and out.suffix == f".{fmt}" else fmt
    store, chosen, skipped = _typestore(topics, version)
    plans = _plans(topics, store, chosen, skipped, version)
    if not plans:
        raise RosBridgeError(
            "nothing to export: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
        )
    report = ExportReport(skipped=skipped)
    report.compression = choose(_recorded_compression(plans), target, compression)
    counts = [p.topic.count for p in plans]
    total = None if None in counts else sum(c or 0 for c in counts)
    bar = progress if isinstance(progress, Progress) else Progress(total, enabled=progress)
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written = _write(plans, store, fmt, out, tmp / "bag", report, bar)
        os.replace(written, out)
    finally:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
    report.seconds = time.monotonic() - start
    return report


def _plans(
    topics: Sequence[ExportTopic],
    store: Typestore,
    chosen: dict[str, tuple[str, str]],
    skipped: dict[str, str],
    version: int,
) -> list[_Plan]:
    """The topics with a resolved type and usable QoS; adds the others to `skipped`."""
    plans = []
    for topic in topics:
        if topic.name not in chosen:
            continue
        ros_topic, msgtype = chosen[topic.name]
        ros = topic.metadata.get(ROS_KEY) or {}
        try:
            qos = ros1_header(ros) if version == 1 else {"offered_qos_profiles": ros2_profiles(ros)}
        except RosBridgeError as exc:
            skipped[topic.name] = str(exc)
            continue
        name = ros.get("adapter", msgtype if msgtype in ADAPTERS else GENERIC)
        adapter: TopicAdapter = (
            GenericAdapter.for_type(store, msgtype) if name == GENERIC else ADAPTERS[name]
        )
        plans.append(_Plan(topic, ros_topic, msgtype, adapter, qos))
    return plans


def _recorded_compression(plans: Sequence[_Plan]) -> Compression:
    """The most common compression the topics were recorded with (none when none says).

    Raises:
        RosBridgeError: a topic's `_ros_.compression` entry is malformed.
    """
    found: Counter[Compression] = Counter()
    for p in plans:
        entry = (p.topic.metadata.get(ROS_KEY) or {}).get("compression")
        try:
            found[Compression.from_metadata(entry)] += entry is not None
        except RosBridgeError as exc:
            raise RosBridgeError(f"topic {p.topic.name}: {exc}") from None
    best = found.most_common(1)
    return best[0][0] if best and best[0][1] else Compression()


def _write(
    plans: Sequence[_Plan],
    store: Typestore,
    fmt: str,
    out: Path,
    path: Path,
    report: ExportReport,
    bar: Progress,
) -> Path:
    """Writes into `path` (inside a private temp folder); returns what becomes `out`.

    Messages go in log-time order across topics, as recorders write them: one batch of each
    topic is held at a time.
    """
    factory = RosFactory(store)
    merged = heapq.merge(
        *(_messages(p, k, factory, report) for k, p in enumerate(plans)), key=lambda m: m[0]
    )
    writer: Writer1 | Writer2
    if fmt == "bag":
        path = path.with_suffix(".bag")
        writer, serialize = Writer1(path), store.serialize_ros1
    else:
        plugin = StoragePlugin.MCAP if fmt == "mcap" else StoragePlugin.SQLITE3
        writer, serialize = Writer2(path, version=9, storage_plugin=plugin), store.serialize_cdr
    configure(writer, report.compression)
    with writer:
        conns = [
            writer.add_connection(p.ros_topic, p.msgtype, typestore=store, **p.connection)
            for p in plans
        ]
        for t, k, msg in merged:
            raw = serialize(msg, plans[k].msgtype)
            writer.write(conns[k], t, raw)
            report.nbytes += len(raw)
            bar.update(1, len(raw))
    if fmt != "bag" and out.suffix == f".{fmt}":
        (storage,) = path.glob(f"*.{fmt}")
        return storage
    return path


def _messages(
    plan: _Plan, index: int, factory: RosFactory, report: ExportReport
) -> Iterator[tuple[int, int, Any]]:
    """(log time, `index`, message) of one topic, in its stored order."""
    report.written[plan.topic.name] = 0
    originals = (plan.topic.metadata.get(ROS_KEY) or {}).get("originals") or {}
    for batch in plan.topic.batches:
        times = batch.column(0).to_pylist()
        payload = pa.Table.from_batches([batch]).drop_columns([TIMESTAMP]).to_pylist()
        for t, row in zip(times, payload, strict=True):
            try:
                msg = factory.build(plan.msgtype, plan.adapter.to_ros(row, originals))
            except (KeyError, ValueError, TypeError) as exc:
                raise RosBridgeError(
                    f"topic {plan.topic.name}: cannot export a row: {exc}"
                ) from exc
            report.written[plan.topic.name] += 1
            yield t, index, msg
