"""Opening ROS recordings (.bag, .db3, .mcap, rosbag2 folders) with rosbags' readers.

The typestore is built here, per topic, from the definitions stored in the recording
(rather than by `AnyReader`, which rejects the whole file for one bad definition): a topic
whose definition is missing, unreadable or inconsistent is reported, the others ingest.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.rosbag1 import Reader as Reader1
from rosbags.rosbag1 import ReaderError as ReaderError1
from rosbags.rosbag2 import Reader as Reader2
from rosbags.rosbag2 import ReaderError as ReaderError2
from rosbags.typesys import (
    Stores,
    TypesysError,
    get_types_from_idl,
    get_types_from_msg,
    get_typestore,
)
from rosbags.typesys.store import Typestore

from mosaico.bridges.ros import ros1_records
from mosaico.bridges.ros.compression import Compression, recorded
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.typedefs import closure

_FILE_SUFFIXES = {".bag": 1, ".db3": 2, ".mcap": 2}
# Recordings without stored definitions (older rosbag2 sqlite files) still decode the
# standard messages with the stock definitions of their ROS generation.
STOCK = {1: Stores.ROS1_NOETIC, 2: Stores.ROS2_HUMBLE}
_IDL_SEP = "=" * 80 + "\n"


@attrs.frozen
class RosTopic:
    """One topic of a recording, as stored in the bag; `problem` says why it cannot be read.

    `definition` is the message definition text, `definition_format` `msg` or `idl`: for
    a recording that stores none, the stock definition of its ROS generation as `msg`;
    empty and `none` when not even that exists. `count` sums the messages of every
    connection of the topic (one or more per file).
    """

    name: str
    msgtype: str
    definition: str
    definition_format: str
    count: int
    connections: tuple[Connection, ...]
    problem: str | None = None


def ros_version(paths: Sequence[Path]) -> int:
    """1 for ROS 1 bags, 2 for rosbag2 storage; fails on unknown or mixed formats."""
    versions = set()
    for path in paths:
        if not path.exists():
            raise RosBridgeError(f"{path}: no such file or directory")
        if path.is_dir():
            if not (path / "metadata.yaml").is_file():
                raise RosBridgeError(f"{path}: a folder but not a rosbag2 bag (no metadata.yaml)")
            versions.add(2)
        elif path.suffix in _FILE_SUFFIXES:
            versions.add(_FILE_SUFFIXES[path.suffix])
        else:
            raise RosBridgeError(
                f"{path}: unknown storage format {path.suffix or '(no suffix)'!r}; "
                "expected .bag, .db3, .mcap or a rosbag2 folder"
            )
    if len(versions) != 1:
        raise RosBridgeError("cannot mix ROS 1 bags and ROS 2 recordings in one ingest")
    if versions == {2} and len(paths) > 1:
        raise RosBridgeError("a ROS 2 recording is one file or one rosbag2 folder")
    return versions.pop()


def parse_definition(text: str, fmt: str, msgtype: str) -> dict[str, Any]:
    """Type definitions (rosbags `Typesdict`) from a stored msg or IDL definition."""
    if fmt == "idl":
        if text.startswith(_IDL_SEP + "IDL: "):  # several IDL files, each after a header line
            chunks = [c.split("\n", 1)[1] for c in text.split(_IDL_SEP)[1:]]
        else:
            chunks = [text]
        types: dict[str, Any] = {}
        for chunk in chunks:
            types.update(get_types_from_idl(chunk))
        return types
    return dict(get_types_from_msg(text, msgtype))


class RosSource:
    """An open recording: its topics, typestore and raw message stream.

    Opening validates everything that can be checked up front (paths, storage format,
    readable headers and definitions), so a bad file fails before anything is written.
    `topics` maps each ROS topic name to its `RosTopic`, `ros_version` is 1 or 2, and
    `typestore` holds the definitions of every readable topic, `compression` says how the
    recording is compressed. Use it as a context manager.

    Raises:
        RosBridgeError: no path, a missing or unknown file, mixed ROS generations, or a
            file rosbags cannot open.

    >>> with RosSource(["run_0.bag", "run_1.bag"]) as source:
    ...     for name, topic in source.topics.items():
    ...         print(name, topic.msgtype, topic.count, topic.problem or "")
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise RosBridgeError("no input file given")
        self.ros_version = ros_version(self.paths)
        self._stack = ExitStack()
        self._readers: list[Reader1 | Reader2] = []
        try:
            for path in self.paths:
                reader = Reader1(path) if self.ros_version == 1 else Reader2(path)
                self._stack.enter_context(reader)
                self._readers.append(reader)
        except (ReaderError1, ReaderError2, OSError, ValueError, KeyError) as exc:
            self._stack.close()
            raise RosBridgeError(f"cannot read {path}: {exc}") from None
        self.typestore: Typestore = get_typestore(Stores.EMPTY)
        self._stock: Typestore | None = None
        self.topics = self._collect_topics()
        self.compression: Compression = recorded(self._readers)
        self._deserialize: Callable[[bytes, str], object] = (
            self.typestore.deserialize_ros1
            if self.ros_version == 1
            else self.typestore.deserialize_cdr
        )

    def _collect_topics(self) -> dict[str, RosTopic]:
        by_topic: dict[str, list[Connection]] = {}
        for reader in self._readers:
            for conn in reader.connections:
                by_topic.setdefault(conn.topic, []).append(conn)
        topics = {}
        for name in sorted(by_topic):
            conns = by_topic[name]
            msgtype = conns[0].msgtype
            stored = next((c for c in conns if c.msgdef.data), None)
            definition, fmt = ("", "none")
            if stored is not None:
                definition = stored.msgdef.data
                fmt = "idl" if stored.msgdef.format == MessageDefinitionFormat.IDL else "msg"
            problem = None
            try:
                if len({c.msgtype for c in conns}) > 1:
                    kinds = ", ".join(sorted({c.msgtype for c in conns}))
                    raise RosBridgeError(f"several message types on one topic: {kinds}")
                if stored is None:
                    self._register_stock(msgtype)
                    definition, fmt = self.typestore.generate_msgdef(msgtype)[0], "msg"
                else:
                    # Types known from another topic must agree, rosbags raises otherwise.
                    self.typestore.register(parse_definition(definition, fmt, msgtype))
                    self._check_digest(stored)
                closure(self.typestore, msgtype)  # every nested type is defined
            except (RosBridgeError, TypesysError, KeyError, ValueError, IndexError) as exc:
                problem = str(exc) if isinstance(exc, RosBridgeError) else (
                    f"unusable definition of {msgtype}: {exc}"
                )  # fmt: skip
            topics[name] = RosTopic(
                name=name,
                msgtype=msgtype,
                definition=definition,
                definition_format=fmt,
                count=sum(c.msgcount for c in conns),
                connections=tuple(conns),
                problem=problem,
            )
        return topics

    def _register_stock(self, msgtype: str) -> None:
        if msgtype in self.typestore.fielddefs:
            return
        self._stock = self._stock or get_typestore(STOCK[self.ros_version])
        if msgtype not in self._stock.fielddefs:
            raise RosBridgeError(f"message type {msgtype} has no definition in the recording")
        names = closure(self._stock, msgtype)
        self.typestore.register({t: self._stock.fielddefs[t] for t in names})

    def _check_digest(self, conn: Connection) -> None:
        if not conn.digest:
            return
        if self.ros_version == 1:
            have = self.typestore.generate_msgdef(conn.msgtype)[1]
        else:
            have = self.typestore.hash_rihs01(conn.msgtype)
        if have != conn.digest:
            raise RosBridgeError(
                f"the stored definition of {conn.msgtype} does not match its hash "
                f"({conn.digest}); it may be corrupt"
            )

    def messages(self, topics: Sequence[RosTopic]) -> Generator[tuple[str, int, bytes]]:
        """(topic, log time ns, raw bytes) in log-time order; other topics are never read.

        Raises:
            RosBridgeError: reading the recording fails midway (a truncated or corrupt file).
        """
        wanted = {id(c) for t in topics for c in t.connections}
        streams = []
        for reader in self._readers:
            conns = [c for c in reader.connections if id(c) in wanted]
            if isinstance(reader, Reader1) and conns:  # only their records (ros1_records)
                streams.append(ros1_records.messages(reader, conns))
            elif conns:
                streams.append(reader.messages(connections=conns))
        try:
            for conn, log_time, raw in heapq.merge(*streams, key=lambda m: m[1]):
                yield conn.topic, log_time, raw
        except (ReaderError1, ReaderError2) as exc:
            raise RosBridgeError(f"reading the recording failed: {exc}") from None

    def first(self, topic: RosTopic) -> object | None:
        """The first message of `topic`, decoded; None when it has none or does not decode
        (ingest then reports the topic)."""
        stream = self.messages([topic])
        try:
            item = next(stream, None)
            return None if item is None else self.deserialize(item[2], topic.msgtype)
        except Exception:  # noqa: BLE001 - reported when the topic ingests
            return None
        finally:
            stream.close()

    def deserialize(self, raw: bytes, msgtype: str) -> object:
        """Decode one raw message of `msgtype` (ROS 1 serialization or CDR, by recording).

        rosbags' errors on bytes that do not match the definition propagate unchanged.
        """
        return self._deserialize(raw, msgtype)

    def close(self) -> None:
        """Close the readers of every file; the source is unusable after."""
        self._stack.close()

    def __enter__(self) -> RosSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
