"""DoAction names and request bodies (spec §5): typed, validated, encodable both ways."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.action_names import PAGED_ACTIONS as PAGED_ACTIONS
from mosaico.protocol.action_names import ActionName, action_name, request_what
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import (
    SessionLocator,
    TopicLocator,
    normalize_sequence_name,
    parse_uuid,
)
from mosaico.protocol.query import QueryRequest
from mosaico.protocol.temporal import ClusterizeRequest, IntersectRequest

SERIALIZATION_FORMATS = ("default", "ragged", "image")
NOTIFICATION_TYPES = ("error",)


def _sequence(obj: dict[str, Any], what: str) -> str:
    return normalize_sequence_name(jb.req_str(obj, "locator", what))


def _topic(obj: dict[str, Any], what: str) -> TopicLocator:
    return TopicLocator.parse(jb.req_str(obj, "locator", what))


def _session_uuid(obj: dict[str, Any], what: str) -> str:
    return parse_uuid(jb.req_str(obj, "session_uuid", what), "session_uuid")


@attrs.frozen
class InfoRequest:
    action: ClassVar[ActionName] = ActionName.INFO

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> InfoRequest:
        return cls()

    def to_json(self) -> dict[str, Any]:
        return {}


@attrs.frozen
class SequenceCreate:
    action: ClassVar[ActionName] = ActionName.SEQUENCE_CREATE
    sequence: str
    user_metadata: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SequenceCreate:
        what = request_what(cls.action)
        return cls(_sequence(obj, what), jb.metadata(obj, "user_metadata", what))

    def to_json(self) -> dict[str, Any]:
        return {"locator": self.sequence, "user_metadata": self.user_metadata}


@attrs.frozen
class SessionCreate:
    action: ClassVar[ActionName] = ActionName.SESSION_CREATE
    sequence: str

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionCreate:
        return cls(_sequence(obj, request_what(cls.action)))

    def to_json(self) -> dict[str, Any]:
        return {"locator": self.sequence}


def _serialization_format(obj: dict[str, Any], what: str) -> str:
    value = jb.req_str(obj, "serialization_format", what)
    if value not in SERIALIZATION_FORMATS:
        raise InvalidArgument(
            f"{what}: serialization_format {value!r} is not one of {list(SERIALIZATION_FORMATS)}"
        )
    return value


def _ontology_tag(obj: dict[str, Any], what: str) -> str:
    value = jb.req_str(obj, "ontology_tag", what)
    if not value.strip():
        raise InvalidArgument(f"{what}: ontology_tag must be a non-empty string")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidArgument(f"{what}: ontology_tag {value!r} contains a control character")
    return value


@attrs.frozen
class TopicCreate:
    action: ClassVar[ActionName] = ActionName.TOPIC_CREATE
    session_uuid: str
    topic: TopicLocator
    serialization_format: str
    ontology_tag: str
    user_metadata: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TopicCreate:
        what = request_what(cls.action)
        return cls(
            _session_uuid(obj, what), _topic(obj, what), _serialization_format(obj, what),
            _ontology_tag(obj, what), jb.metadata(obj, "user_metadata", what),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "session_uuid": self.session_uuid,
            "locator": str(self.topic),
            "serialization_format": self.serialization_format,
            "ontology_tag": self.ontology_tag,
            "user_metadata": self.user_metadata,
        }


@attrs.frozen
class SessionFinalize:
    action: ClassVar[ActionName] = ActionName.SESSION_FINALIZE
    session_uuid: str

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionFinalize:
        return cls(_session_uuid(obj, request_what(cls.action)))

    def to_json(self) -> dict[str, Any]:
        return {"session_uuid": self.session_uuid}


@attrs.frozen
class SessionDelete:
    """By session locator (the reference form) or, alternatively, by session UUID (§5.4.6)."""

    action: ClassVar[ActionName] = ActionName.SESSION_DELETE
    session: SessionLocator | None = None
    session_uuid: str | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionDelete:
        what = request_what(cls.action)
        if obj.get("locator") is None and obj.get("session_uuid") is not None:
            return cls(session_uuid=parse_uuid(jb.req_str(obj, "session_uuid", what), "uuid"))
        return cls(session=SessionLocator.parse(jb.req_str(obj, "locator", what)))

    def to_json(self) -> dict[str, Any]:
        if self.session is not None:
            return {"locator": str(self.session)}
        return {"session_uuid": self.session_uuid}


_SEQUENCE_TARGET = {
    ActionName.SEQUENCE_DELETE,
    ActionName.SEQUENCE_NOTIFICATION_LIST,
    ActionName.SEQUENCE_NOTIFICATION_PURGE,
}
_TOPIC_TARGET = {
    ActionName.TOPIC_DELETE,
    ActionName.TOPIC_NOTIFICATION_LIST,
    ActionName.TOPIC_NOTIFICATION_PURGE,
}


@attrs.frozen
class SequenceTarget:
    """``sequence_delete`` and the sequence notification list/purge: one sequence locator."""

    action: ActionName
    sequence: str

    def to_json(self) -> dict[str, Any]:
        return {"locator": self.sequence}


@attrs.frozen
class TopicTarget:
    """``topic_delete`` and the topic notification list/purge: one topic locator."""

    action: ActionName
    topic: TopicLocator

    def to_json(self) -> dict[str, Any]:
        return {"locator": str(self.topic)}


@attrs.frozen
class NotificationCreate:
    """``sequence_notification_create`` (``topic`` is None) or ``topic_notification_create``."""

    sequence: str
    topic: TopicLocator | None
    notification_type: str
    msg: str

    @property
    def action(self) -> ActionName:
        if self.topic is None:
            return ActionName.SEQUENCE_NOTIFICATION_CREATE
        return ActionName.TOPIC_NOTIFICATION_CREATE

    def to_json(self) -> dict[str, Any]:
        locator = self.sequence if self.topic is None else str(self.topic)
        return {"locator": locator, "notification_type": self.notification_type, "msg": self.msg}


def _notification_create(action: ActionName, obj: dict[str, Any]) -> NotificationCreate:
    what = request_what(action)
    raw = jb.req_str(obj, "locator", what)
    kind = jb.req_str(obj, "notification_type", what)
    if kind not in NOTIFICATION_TYPES:
        raise InvalidArgument(
            f"{what}: notification_type {kind!r} is not one of {list(NOTIFICATION_TYPES)}"
        )
    msg = jb.req_str(obj, "msg", what)
    if action is ActionName.SEQUENCE_NOTIFICATION_CREATE:
        return NotificationCreate(normalize_sequence_name(raw), None, kind, msg)
    topic = TopicLocator.parse(raw)
    return NotificationCreate(topic.sequence, topic, kind, msg)


SingleRequest = (
    InfoRequest
    | SequenceCreate
    | SessionCreate
    | TopicCreate
    | SessionFinalize
    | SessionDelete
    | SequenceTarget
    | TopicTarget
    | NotificationCreate
    | QueryRequest
)
"""A request answered with one envelope."""
PagedRequest = ClusterizeRequest | IntersectRequest
"""A request answered with one envelope per item (§5.2)."""
Request = SingleRequest | PagedRequest

_DOCUMENTS: dict[ActionName, Any] = {
    ActionName.INFO: InfoRequest,
    ActionName.SEQUENCE_CREATE: SequenceCreate,
    ActionName.SESSION_CREATE: SessionCreate,
    ActionName.TOPIC_CREATE: TopicCreate,
    ActionName.SESSION_FINALIZE: SessionFinalize,
    ActionName.SESSION_DELETE: SessionDelete,
    ActionName.QUERY: QueryRequest,
    ActionName.TOPIC_FILTER_CLUSTERIZE: ClusterizeRequest,
    ActionName.TOPIC_FILTER_INTERSECT: IntersectRequest,
}


def parse_request(name: str, body: bytes, max_bytes: int | None = None) -> Request:
    """Validate one DoAction (name + JSON body) into its typed request.

    Raises ``Unimplemented`` for an unknown action and ``InvalidArgument`` (naming the key)
    for a body that breaks the action's rules.
    """
    action = action_name(name)
    obj = jb.load_object(body, f"{action.value} request body", max_bytes)
    if action in _DOCUMENTS:
        request: Request = _DOCUMENTS[action].from_json(obj)
        return request
    if action in _SEQUENCE_TARGET:
        return SequenceTarget(action, _sequence(obj, request_what(action)))
    if action in _TOPIC_TARGET:
        return TopicTarget(action, _topic(obj, request_what(action)))
    return _notification_create(action, obj)  # what remains: the two notification creates


def encode_request(request: Request) -> tuple[str, bytes]:
    """(action name, JSON body) of a request, ready for ``flight.Action``."""
    return request.action.value, jb.dump_object(request.to_json())
