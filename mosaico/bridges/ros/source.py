"""Opening ROS recordings (.bag, .db3, .mcap, rosbag2 folders) with rosbags' readers.

The typestore is built here, per topic, from the definitions stored in the recording
(rather than by `AnyReader`, which rejects the whole file for one bad definition): a topic
whose definition is missing, unreadable or inconsistent is reported, the others ingest.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Iterator, Sequence
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

from mosaico.bridges.ros import mcap_chunks, ros1_records
from mosaico.bridges.ros.adapter import TopicAdapter
from mosaico.bridges.ros.compression import Compression, recorded
from mosaico.bridges.ros.definitions import (
    MSG_SOURCE,
    RECORDING_SOURCE,
    STOCK,
    Definitions,
    resolve,
)
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.mcap_chunks import Run
from mosaico.bridges.ros.typedefs import closure

__all__ = [
    "DEFINITION_ERRORS",
    "STOCK",
    "RosSource",
    "RosTopic",
    "definition_problem",
    "open_source",
    "parse_definition",
    "ros_version",
]

_FILE_SUFFIXES = {".bag": 1, ".db3": 2, ".mcap": 2}
_IDL_SEP = "=" * 80 + "\n"
_Missing = tuple[tuple[str, str | None], ...]  # (type, the type nesting it or None)


@attrs.frozen
class RosTopic:
    """One topic of a recording, as stored in the bag; `problem` says why it cannot be read.

    `definition` is the message definition text, `definition_format` `msg` or `idl`: for
    a recording that stores none, the definition in use (the user's or a typestore's, see
    `definitions`) as `msg`; empty and `none` when there is none. `definition_sources`
    says where the definitions of the type and its nested types came from (`recording`,
    `msg`, a typestore name); `missing` lists the types no source defines, each with the
    type that nests it (None for the topic's type). `count` sums the messages of every
    connection of the topic (one or more per file).
    """

    name: str
    msgtype: str
    definition: str
    definition_format: str
    count: int
    connections: tuple[Connection, ...]
    problem: str | None = None
    definition_sources: tuple[str, ...] = ()
    missing: _Missing = ()


def _no_definition(missing: _Missing) -> str:
    names = [name if parent is None else f"{name} (in {parent})" for name, parent in missing]
    return f"no definition of {', '.join(names)} in the recording, --msg or the typestore"


def _stored_definition(conn: Connection | None) -> tuple[str, str]:
    """The definition text a connection stores and its format; `("", "none")` for none."""
    if conn is None:
        return "", "none"
    fmt = "idl" if conn.msgdef.format == MessageDefinitionFormat.IDL else "msg"
    return conn.msgdef.data, fmt


def _option(source: str) -> str:
    return "--msg" if source == MSG_SOURCE else f"typestore {source}"


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


# What reading a topic's definitions may raise; the topic is then reported, not read.
DEFINITION_ERRORS = (RosBridgeError, TypesysError, KeyError, ValueError, IndexError)


def definition_problem(exc: Exception, msgtype: str) -> str:
    """The reason a topic of `msgtype` cannot be read, from one of `DEFINITION_ERRORS`."""
    if isinstance(exc, RosBridgeError):
        return str(exc)
    return f"unusable definition of {msgtype}: {exc}"


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

    Types the recording does not define (older rosbag2 files store no definitions, some
    recorders none for custom types) are taken from `msg`, `.msg`/`.idl` files or folders
    laid out `PKG/msg/NAME.msg`, then from `typestore`, rosbags' store names
    (`ros2_humble`, `ros1_noetic`, ...; at most one per ROS generation, default `STOCK`).
    The recording's own definitions always win (see `definitions`). A topic whose types
    are still missing lists them in `RosTopic.missing`; `plan` refuses it.

    Raises:
        RosBridgeError: no path, a missing or unknown file, mixed ROS generations, a file
            rosbags cannot open, or unusable `msg` / `typestore` (see `Definitions`).

    >>> with RosSource(["run_0.bag", "run_1.bag"]) as source:
    ...     for name, topic in source.topics.items():
    ...         print(name, topic.msgtype, topic.count, topic.problem or "")
    >>> RosSource(["old_humble_bag"], msg=["src/my_robot_msgs"], typestore="ros2_foxy")
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        msg: Sequence[str | Path] = (),
        typestore: str | Stores | Sequence[str | Stores] | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise RosBridgeError("no input file given")
        self.ros_version = ros_version(self.paths)
        self.definitions = Definitions(msg, typestore)
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
        self._origin: dict[str, str] = {}  # type -> where its definition came from
        self._stored: set[tuple[str, str, str]] = set()  # (definition, format, type) registered
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
        return {name: self._read_topic(name, by_topic[name]) for name in sorted(by_topic)}

    def _read_topic(self, name: str, conns: list[Connection]) -> RosTopic:
        """One topic, its definitions registered (see `definitions` for the precedence)."""
        msgtype = conns[0].msgtype
        stored = next((c for c in conns if c.msgdef.data), None)
        definition, fmt = _stored_definition(stored)
        problem: str | None = None
        sources: tuple[str, ...] = ()
        missing: _Missing = ()
        try:
            if len({c.msgtype for c in conns}) > 1:
                kinds = ", ".join(sorted({c.msgtype for c in conns}))
                raise RosBridgeError(f"several message types on one topic: {kinds}")
            if stored is not None and (definition, fmt, msgtype) not in self._stored:
                # Topics of one type share their definition text: parsed and registered once.
                self._register_stored(parse_definition(definition, fmt, msgtype))
                self._stored.add((definition, fmt, msgtype))
            sources, missing = self._complete(msgtype)
            if missing:
                raise RosBridgeError(_no_definition(missing))
            if stored is None:
                definition, fmt = self.typestore.generate_msgdef(msgtype)[0], "msg"
            self._check_digest(conns, sources)
            closure(self.typestore, msgtype)  # every nested type is defined
        except DEFINITION_ERRORS as exc:
            problem = definition_problem(exc, msgtype)
        return RosTopic(
            name=name,
            msgtype=msgtype,
            definition=definition,
            definition_format=fmt,
            count=sum(c.msgcount for c in conns),
            connections=tuple(conns),
            problem=problem,
            definition_sources=sources,
            missing=missing,
        )

    def _register_stored(self, types: dict[str, Any]) -> None:
        """Register the recording's own definitions; types known from another topic must
        agree (rosbags raises otherwise)."""
        self.typestore.register(types)
        for name in types:
            self._origin.setdefault(name, RECORDING_SOURCE)

    def _complete(self, msgtype: str) -> tuple[tuple[str, ...], _Missing]:
        """Register what `msgtype` lacks from the user's definitions and the typestore.

        Returns where its definitions came from and the types no source defines (each with
        the type that nests it); nothing is registered when one is missing.
        """
        layers = self.definitions.layers(self.ros_version)
        add, source, missing = resolve(self.typestore.fielddefs, msgtype, layers)
        if missing:
            return (), tuple(missing.items())
        self.typestore.register(add)
        self._origin.update(source)
        used = {self._origin.get(name) for name in closure(self.typestore, msgtype)}
        order = [RECORDING_SOURCE] + [label for label, _ in layers]
        return tuple(label for label in order if label in used), ()

    def _check_digest(self, conns: list[Connection], sources: tuple[str, ...]) -> None:
        """The definition in use must match the hash the recording keeps, if any."""
        conn = next((c for c in conns if c.digest), None)
        if conn is None:
            return
        if self.ros_version == 1:
            have = self.typestore.generate_msgdef(conn.msgtype)[1]
        else:
            have = self.typestore.hash_rihs01(conn.msgtype)
        if have != conn.digest:
            given = [_option(s) for s in sources if s != RECORDING_SOURCE]
            if not given:
                raise RosBridgeError(
                    f"the stored definition of {conn.msgtype} does not match its hash "
                    f"({conn.digest}); it may be corrupt"
                )
            raise RosBridgeError(
                f"the definition of {conn.msgtype} from {' and '.join(given)} does not match "
                f"the recorded hash ({conn.digest}); is it another version of the type?"
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

    def runs(self, topics: Sequence[RosTopic]) -> Iterator[Run] | None:
        """The messages of `topics` a run per topic and chunk (`mcap_chunks`: rosbag2 MCAP
        files laid out as recorders write them), each topic's in the order `messages`
        gives; None for any other recording (read it with `messages`).

        Raises (while iterating):
            RosBridgeError: reading the recording fails midway (a truncated or corrupt file).
        """
        if self.ros_version != 2:
            return None
        found = mcap_chunks.runs(self._readers, {t.name: t.msgtype for t in topics})
        return None if found is None else _reading(found)

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

    # How a topic is typed: `ingest.plan` asks the source, so that a source of other message
    # encodings (`mosaico.bridges.mcap.McapSource`) types its own topics.
    def adapter_for(self, topic: RosTopic, override: str | None = None) -> TopicAdapter:
        """The adapter of `topic`: `registry.adapter_for` on its ROS type."""
        from mosaico.bridges.ros.registry import adapter_for

        return adapter_for(self.typestore, topic.msgtype, override)

    def topic_metadata(self, topic: RosTopic, adapter: str) -> dict[str, Any]:
        """The metadata of `topic` ingested with `adapter`: `names.topic_metadata`."""
        from mosaico.bridges.ros.names import topic_metadata

        return topic_metadata(self, topic, adapter)

    def close(self) -> None:
        """Close the readers of every file; the source is unusable after."""
        self._stack.close()

    def __enter__(self) -> RosSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _reading(runs: Iterator[Run]) -> Iterator[Run]:
    try:
        yield from runs
    except ReaderError2 as exc:
        raise RosBridgeError(f"reading the recording failed: {exc}") from None


def open_source(
    paths: Sequence[str | Path],
    *,
    msg: Sequence[str | Path] = (),
    typestore: str | Stores | Sequence[str | Stores] | None = None,
) -> RosSource:
    """The source of a recording: a `RosSource`, or for one MCAP file rosbags does not read
    (protobuf or JSON channels, ROS 1 channels, a profile other than `ros2`) a
    `mosaico.bridges.mcap.McapSource` (the `mcap` extra), which reads its ROS channels too.

    `msg` and `typestore` go to `RosSource` (an MCAP file's ROS channels carry their
    schemas, so `McapSource` needs neither; they are still checked).

    Raises:
        RosBridgeError: as `RosSource` (an MCAP file with protobuf or JSON channels and no
            `mcap` extra installed fails as rosbags does, with a hint).
    """
    path = Path(paths[0]) if len(paths) == 1 else None
    if path is None or path.suffix != ".mcap" or not path.is_file():
        return RosSource(paths, msg=msg, typestore=typestore)
    try:
        from mosaico.bridges.mcap.source import McapSource, needs_mcap
    except ModuleNotFoundError:
        try:
            return RosSource(paths, msg=msg, typestore=typestore)
        except RosBridgeError as exc:
            raise RosBridgeError(
                f"{exc} (MCAP files with protobuf or JSON channels need the 'mcap' extra: "
                "pip install 'mosaico-sdk[mcap]')"
            ) from None
    if needs_mcap(path):
        Definitions(msg, typestore)  # bad paths or names fail the same way
        return McapSource(path)
    return RosSource(paths, msg=msg, typestore=typestore)
