"""Opening MCAP files whose channels are not all ROS 2: protobuf, JSON and CDR side by side.

`McapSource` reads the file with the `mcap` library (its seeking reader and the protobuf
decoder factory of `mcap-protobuf-support`) and offers the interface of `RosSource`, so the
ROS ingest loop drives it unchanged: ROS channels (`cdr` messages of `ros2msg` /
`ros2idl` schemas, or `ros1` messages of `ros1msg` schemas in a ROS 1 file) decode through a
rosbags typestore built from their schemas and keep the standard ROS adapters; protobuf and JSON channels decode through `decoders.py` and
are typed by `foxglove.py` (Foxglove's well-known schemas) or `generic.py` (anything
else). A channel of any other encoding is a topic with a `problem`: it is reported, the
others ingest.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Generator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from mcap.exceptions import McapError
from mcap.reader import McapReader, make_reader
from mcap.records import Channel, Schema
from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag1,
    ConnectionExtRosbag2,
    MessageDefinition,
    MessageDefinitionFormat,
)
from rosbags.rosbag2.metadata import parse_qos
from rosbags.typesys import Stores, get_typestore
from rosbags.typesys.msg import normalize_msgtype
from zstandard import ZstdError

from mosaico.bridges.mcap.decoders import Decoded, decoder_for
from mosaico.bridges.mcap.foxglove import FOXGLOVE
from mosaico.bridges.mcap.generic import GENERIC, generic_adapter
from mosaico.bridges.ros.adapter import TopicAdapter
from mosaico.bridges.ros.compression import Compression
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.names import MCAP_KEY
from mosaico.bridges.ros.source import (
    DEFINITION_ERRORS,
    RosSource,
    RosTopic,
    definition_problem,
    parse_definition,
)
from mosaico.bridges.ros.typedefs import closure

# (message encoding, schema encoding) of the ROS channels → (ROS generation, definition format).
_ROS = {
    ("cdr", "ros2msg"): (2, "msg"),
    ("cdr", "ros2idl"): (2, "idl"),
    ("ros1", "ros1msg"): (1, "msg"),
}
# Errors of the mcap reader on a damaged file: truncated or garbled records, chunks that
# fail their CRC or do not decompress (zstd; lz4 raises RuntimeError).
_READ_ERRORS = (
    McapError, OSError, EOFError, ValueError, KeyError, IndexError, struct.error, ZstdError,
    RuntimeError,
)  # fmt: skip


def ros_kind(channel: Channel, schema: Schema | None) -> tuple[int, str] | None:
    """(ROS generation, definition format) of a ROS channel: CDR messages of a ROS 2 msg or
    IDL schema, or ROS 1 messages of a ROS 1 msg schema; None for any other channel."""
    return None if schema is None else _ROS.get((channel.message_encoding, schema.encoding))


def needs_mcap(path: Path) -> bool:
    """True for an MCAP file rosbags does not read: a channel that is not ROS 2, a profile
    other than `ros2`, or no summary to tell; False when rosbags reads all of it.

    Raises:
        RosBridgeError: the file is not a readable MCAP file.
    """
    try:
        with path.open("rb") as stream:
            reader = make_reader(stream)
            profile, summary = reader.get_header().profile, reader.get_summary()
    except _READ_ERRORS as exc:
        raise RosBridgeError(f"cannot read {path}: {exc}") from None
    if summary is None or profile != "ros2":
        return True
    kinds = [ros_kind(c, summary.schemas.get(c.schema_id)) for c in summary.channels.values()]
    return not all(kind is not None and kind[0] == 2 for kind in kinds)


class McapSource(RosSource):
    """An open MCAP file of any message encodings, with the interface of `RosSource`.

    It does not open the file with rosbags (which reads MCAP files of the `ros2` profile
    only) and so does not run `RosSource.__init__`: it fills the same attributes itself.
    `ros_version` is 1 when the file's ROS channels are ROS 1 (a `ros1` MCAP), else 2; ROS
    channels of the other generation are topics with a `problem`. `topics` holds one
    `RosTopic` per MCAP topic; for protobuf and JSON topics `msgtype` is the schema name
    (`name#2`... for another schema of a name already taken),
    `definition` the schema (JSON schema text, protobuf `FileDescriptorSet` in base64) and
    `definition_format` the schema encoding.

    Raises:
        RosBridgeError: the file is missing or not a readable MCAP file.

    >>> with McapSource("drive.mcap") as source:
    ...     [(t.name, t.msgtype, t.definition_format) for t in source.topics.values()]
    [('/gps', 'foxglove.LocationFix', 'protobuf'), ('/imu', 'sensor_msgs/msg/Imu', 'msg')]
    """

    def __init__(self, path: str | Path) -> None:
        self.paths = [Path(path)]
        self.typestore = get_typestore(Stores.EMPTY)
        self._stack = ExitStack()
        try:
            stream: IO[bytes] = self._stack.enter_context(self.paths[0].open("rb"))
            self._reader: McapReader = make_reader(stream, validate_crcs=True)
            channels, schemas, counts, chunks = _inventory(self._reader)
        except _READ_ERRORS as exc:
            self._stack.close()
            raise RosBridgeError(f"cannot read {path}: {exc}") from None
        self.compression = _compression(chunks)
        self.ros_version = _generation(channels, schemas)
        # Schema name → (encodings, schema) and decoding; topic name → decoding, metadata.
        self._schemas: dict[str, tuple[tuple[str, Any], Decoded]] = {}
        self._foreign: dict[str, tuple[Decoded, dict[str, str]]] = {}
        self.topics = {}
        by_topic: dict[str, list[Channel]] = {}
        for channel in channels:
            by_topic.setdefault(channel.topic, []).append(channel)
        for name in sorted(by_topic):
            chans = by_topic[name]
            count = sum(counts.get(c.id, 0) for c in chans)
            self.topics[name] = self._topic(name, chans, schemas, count)

    def _topic(
        self, name: str, channels: list[Channel], schemas: dict[int, Schema], count: int
    ) -> RosTopic:
        first = channels[0]
        schema = schemas.get(first.schema_id)
        kinds = {(c.message_encoding, _key(schemas.get(c.schema_id))) for c in channels}
        if len(kinds) > 1:
            return _problem(name, schema, count, "its channels have different schemas")
        kind = ros_kind(first, schema)
        if kind is not None and schema is not None:
            return self._ros_topic(name, channels, schema, kind, count)
        try:
            key, decoded = self._decoded(first.message_encoding, schema)
        except RosBridgeError as exc:
            return _problem(name, schema, count, str(exc))
        self._foreign[name] = decoded, dict(first.metadata)
        return RosTopic(
            name=name,
            msgtype=key,
            definition=decoded.schema_text,
            definition_format=decoded.schema_encoding or "none",
            count=count,
            connections=(),
        )

    def _decoded(self, message_encoding: str, schema: Schema | None) -> tuple[str, Decoded]:
        """The decoding of a schema and the key `deserialize` finds it by: the schema name,
        or `name#2`, `name#3`... for further schemas of the same name (e.g. a protobuf and
        a JSON `foxglove.LocationFix`)."""
        decoded = decoder_for(message_encoding, schema)
        ident = (message_encoding, _key(schema))
        key, k = decoded.msgtype, 1
        while key in self._schemas and self._schemas[key][0] != ident:
            k += 1
            key = f"{decoded.msgtype}#{k}"
        if key in self.typestore.fielddefs:
            raise RosBridgeError(f"{key} is also the name of a ROS type in the file")
        return key, self._schemas.setdefault(key, (ident, decoded))[1]

    def _ros_topic(
        self,
        name: str,
        channels: list[Channel],
        schema: Schema,
        kind: tuple[int, str],
        count: int,
    ) -> RosTopic:
        """A ROS channel: its definition goes into the typestore, as `RosSource` does."""
        (version, fmt), definition = kind, schema.data.decode(errors="replace")
        msgtype = normalize_msgtype(schema.name)  # ROS 1 names lack the `msg/` part
        problem = None
        try:
            if version != self.ros_version:
                raise RosBridgeError(
                    f"a ROS {version} channel in a file of ROS {self.ros_version} channels "
                    "(one ROS generation per recording)"
                )
            if msgtype in self._schemas:
                raise RosBridgeError(f"{msgtype} is also the name of a non-ROS schema in the file")
            self.typestore.register(parse_definition(definition, fmt, msgtype))
            closure(self.typestore, msgtype)
        except DEFINITION_ERRORS as exc:
            problem = definition_problem(exc, msgtype)
        return RosTopic(
            name=name,
            msgtype=msgtype,
            definition=definition,
            definition_format=fmt,
            count=count,
            connections=tuple(_connection(c, msgtype, definition, fmt, count) for c in channels),
            problem=problem,
        )

    def adapter_for(self, topic: RosTopic, override: str | None = None) -> TopicAdapter:
        """The standard ROS adapters for ROS topics; for the others, the Foxglove
        adapter of the schema name (or of `override`, a `foxglove.*` name), or the generic
        adapter (`override` `"generic"`, or no Foxglove adapter for the schema).

        Raises:
            RosBridgeError: `override` is neither `"generic"` nor a Foxglove schema with an
                adapter, or the generic adapter cannot hold the schema.
        """
        if topic.name not in self._foreign:
            return super().adapter_for(topic, override)
        decoded = self._foreign[topic.name][0]
        if override is not None and override != GENERIC and override not in FOXGLOVE:
            raise RosBridgeError(
                f"unknown adapter {override!r} for a {decoded.schema_encoding} topic: use "
                f"'generic' or a Foxglove schema ({', '.join(sorted(FOXGLOVE))})"
            )
        name = override or decoded.msgtype
        if name != GENERIC and name in FOXGLOVE:
            return FOXGLOVE[name]
        return generic_adapter(decoded)

    def topic_metadata(self, topic: RosTopic, adapter: str) -> dict[str, Any]:
        """`_ros_` metadata for ROS topics (`RosSource.topic_metadata`); for the others
        the `_mcap_` entry: channel topic, schema (name, encoding, data: JSON schema text or
        base64 protobuf descriptors), message encoding, channel metadata, adapter and the
        fields a Foxglove adapter drops. `mosaico export` writes ROS recordings only: it
        writes such a topic as the standard ROS type of its tag, or skips a generic one."""
        if topic.name not in self._foreign:
            return super().topic_metadata(topic, adapter)
        decoded, channel_metadata = self._foreign[topic.name]
        entry: dict[str, Any] = {
            "topic": topic.name,
            "schema": decoded.msgtype,
            "schema_encoding": decoded.schema_encoding,
            "schema_data": decoded.schema_text,
            "message_encoding": decoded.message_encoding,
            "channel_metadata": channel_metadata,
            "adapter": adapter,
            "source": [p.name for p in self.paths],
        }
        if adapter in FOXGLOVE and FOXGLOVE[adapter].dropped:
            entry["dropped"] = list(FOXGLOVE[adapter].dropped)
        return {MCAP_KEY: entry}

    def messages(self, topics: Sequence[RosTopic]) -> Generator[tuple[str, int, bytes]]:
        """(topic, log time ns, raw bytes) in log-time order; other topics are never read.

        Raises:
            RosBridgeError: reading the file fails midway (a truncated or corrupt file).
        """
        names = [t.name for t in topics]
        if not names:
            return
        try:
            for _, channel, message in self._reader.iter_messages(names, log_time_order=True):
                yield channel.topic, message.log_time, message.data
        except _READ_ERRORS as exc:
            raise RosBridgeError(f"reading the recording failed: {exc}") from None

    def runs(self, topics: Sequence[RosTopic]) -> None:
        """None: this source is read message by message (`messages`)."""
        return None

    def deserialize(self, raw: bytes, msgtype: str) -> object:
        """Decode one message: by the decoder of a protobuf or JSON schema named `msgtype`,
        else as the CDR (ROS 1 serialization in a ROS 1 file) of the ROS type `msgtype`.
        Decoding errors propagate unchanged."""
        known = self._schemas.get(msgtype)
        if known is not None:
            return known[1].decode(raw)
        if self.ros_version == 1:
            return self.typestore.deserialize_ros1(raw, msgtype)
        return self.typestore.deserialize_cdr(raw, msgtype)


def _key(schema: Schema | None) -> tuple[str, str, bytes] | None:
    return None if schema is None else (schema.name, schema.encoding, schema.data)


def _problem(name: str, schema: Schema | None, count: int, problem: str) -> RosTopic:
    return RosTopic(
        name=name,
        msgtype=schema.name if schema is not None else "",
        definition="",
        definition_format=schema.encoding if schema is not None else "none",
        count=count,
        connections=(),
        problem=problem,
    )


def _connection(
    channel: Channel, msgtype: str, definition: str, fmt: str, count: int
) -> Connection:
    """The rosbags connection of a ROS channel, for the QoS entries of `_ros_` metadata:
    ROS 2 offered profiles, or the ROS 1 `callerid` and `latching` (the channel metadata
    keys of the MCAP ros1 profile)."""
    meta = channel.metadata
    ext: ConnectionExtRosbag1 | ConnectionExtRosbag2
    if channel.message_encoding == "ros1":
        latching = meta.get("latching")
        ext = ConnectionExtRosbag1(
            meta.get("callerid"), int(latching) if latching in ("0", "1") else None
        )
    else:
        try:
            qos = (
                parse_qos(meta["offered_qos_profiles"]) if meta.get("offered_qos_profiles") else []
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            qos = []  # unreadable profiles are not kept; the messages still are
        ext = ConnectionExtRosbag2(channel.message_encoding, qos)
    msgdef_format = MessageDefinitionFormat.IDL if fmt == "idl" else MessageDefinitionFormat.MSG
    return Connection(
        id=channel.id,
        topic=channel.topic,
        msgtype=msgtype,
        msgdef=MessageDefinition(msgdef_format, definition),
        digest="",
        msgcount=count,
        ext=ext,
        owner=None,
    )


def _generation(channels: list[Channel], schemas: dict[int, Schema]) -> int:
    """1 when the ROS channels of the file are ROS 1 ones only, else 2."""
    versions = {k[0] for c in channels if (k := ros_kind(c, schemas.get(c.schema_id)))}
    return 1 if versions == {1} else 2


def _inventory(
    reader: McapReader,
) -> tuple[list[Channel], dict[int, Schema], dict[int, int], list[str]]:
    """Channels, schemas, messages per channel id and chunk compressions, from the
    summary section; the counts (and without a summary, the channels) from one pass over
    the messages when it has no statistics. The pass goes in log-time order: mcap's
    file-order iteration decompresses every chunk before the first message."""
    summary = reader.get_summary()
    channels = dict(summary.channels) if summary is not None else {}
    schemas = dict(summary.schemas) if summary is not None else {}
    chunks = [c.compression for c in summary.chunk_indexes] if summary is not None else []
    if summary is not None and summary.statistics is not None:
        counts = dict(summary.statistics.channel_message_counts)
        return list(channels.values()), schemas, counts, chunks
    tally: Counter[int] = Counter()
    for schema, channel, _ in reader.iter_messages(log_time_order=True):
        channels.setdefault(channel.id, channel)
        if schema is not None:
            schemas.setdefault(schema.id, schema)
        tally[channel.id] += 1
    return list(channels.values()), schemas, dict(tally), chunks


def _compression(chunks: list[str]) -> Compression:
    counts = Counter(c for c in chunks if c)
    return Compression(counts.most_common(1)[0][0], "chunk") if counts else Compression()
