"""DoAction names and request bodies (spec §5): typed, validated, encodable both ways.

The server turns a received action into its typed request with ``parse_request``; the client
sends one with ``encode_request``. Both go through the same ``from_json`` / ``to_json`` of
each request class, so the two sides agree on every key.

>>> from mosaico.protocol import SequenceCreate, encode_request, parse_request
>>> name, body = encode_request(SequenceCreate("run-001", {"vehicle": "alpha"}))
>>> name, body
('sequence_create', b'{"locator":"run-001","user_metadata":{"vehicle":"alpha"}}')
>>> parse_request(name, body)
SequenceCreate(sequence='run-001', user_metadata={'vehicle': 'alpha'})
"""

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
"""The ``serialization_format`` values ``topic_create`` accepts (§5.4.4): storage hints."""
NOTIFICATION_TYPES = ("error",)
"""The only ``notification_type`` the reference client knows (§5.4.9); others are rejected."""


def _sequence(obj: dict[str, Any], what: str) -> str:
    return normalize_sequence_name(jb.req_str(obj, "locator", what))


def _topic(obj: dict[str, Any], what: str) -> TopicLocator:
    return TopicLocator.parse(jb.req_str(obj, "locator", what))


def _session_uuid(obj: dict[str, Any], what: str) -> str:
    return parse_uuid(jb.req_str(obj, "session_uuid", what), "session_uuid")


@attrs.frozen
class InfoRequest:
    """The ``info`` handshake (§5.4.1): a request without keys; the reply is a ``ServerInfo``."""

    action: ClassVar[ActionName] = ActionName.INFO

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> InfoRequest:
        """The request of a decoded body; ``info`` has no keys, any others are ignored."""
        return cls()

    def to_json(self) -> dict[str, Any]:
        """The body: always ``{}``."""
        return {}


@attrs.frozen
class SequenceCreate:
    """``sequence_create`` (§5.4.2): a new, empty sequence with its user metadata.

    Attributes:
        sequence: the sequence name (normalised when parsed: no leading or trailing ``/``).
        user_metadata: any JSON object, ``{}`` when none; it never changes afterwards.
    """

    action: ClassVar[ActionName] = ActionName.SEQUENCE_CREATE
    sequence: str
    user_metadata: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SequenceCreate:
        """Validate a decoded body; an absent or null ``user_metadata`` reads as ``{}``.

        Raises:
            InvalidArgument: ``locator`` is missing or not a valid sequence name (§3.2), or
                ``user_metadata`` is not an object.
        """
        what = request_what(cls.action)
        return cls(_sequence(obj, what), jb.metadata(obj, "user_metadata", what))

    def to_json(self) -> dict[str, Any]:
        """The body ``{"locator", "user_metadata"}``."""
        return {"locator": self.sequence, "user_metadata": self.user_metadata}


@attrs.frozen
class SessionCreate:
    """``session_create`` (§5.4.3): open a pending session on an existing ``sequence``.

    The reply (``SessionCreated``) carries the session UUID that ``topic_create`` and
    ``session_finalize`` take.
    """

    action: ClassVar[ActionName] = ActionName.SESSION_CREATE
    sequence: str

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionCreate:
        """Validate a decoded body; ``locator`` is normalised like a sequence name (§3.4).

        Raises:
            InvalidArgument: ``locator`` is missing or not a valid sequence name.
        """
        return cls(_sequence(obj, request_what(cls.action)))

    def to_json(self) -> dict[str, Any]:
        """The body ``{"locator": <sequence>}``."""
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
    """``topic_create`` (§5.4.4): a new topic in a pending session.

    Attributes:
        session_uuid: the write handle of the session (canonical lowercase UUID when parsed).
        topic: the topic's locator; its sequence must be the session's (the server checks).
        serialization_format: one of ``SERIALIZATION_FORMATS``.
        ontology_tag: the type tag stored with the topic (``"IMU"``); non-empty, no control
            characters.
        user_metadata: any JSON object, ``{}`` when none.
    """

    action: ClassVar[ActionName] = ActionName.TOPIC_CREATE
    session_uuid: str
    topic: TopicLocator
    serialization_format: str
    ontology_tag: str
    user_metadata: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TopicCreate:
        """Validate a decoded body.

        Raises:
            InvalidArgument: a missing key, a malformed ``session_uuid`` or ``locator``, a
                ``serialization_format`` outside ``SERIALIZATION_FORMATS``, a blank
                ``ontology_tag`` or one with a control character, or a ``user_metadata``
                that is not an object.
        """
        what = request_what(cls.action)
        return cls(
            _session_uuid(obj, what), _topic(obj, what), _serialization_format(obj, what),
            _ontology_tag(obj, what), jb.metadata(obj, "user_metadata", what),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The body: every key of §5.4.4, ``locator`` in its wire form ``seq/path``."""
        return {
            "session_uuid": self.session_uuid,
            "locator": str(self.topic),
            "serialization_format": self.serialization_format,
            "ontology_tag": self.ontology_tag,
            "user_metadata": self.user_metadata,
        }


@attrs.frozen
class SessionFinalize:
    """``session_finalize`` (§5.4.5): lock a session and its topics; they become immutable."""

    action: ClassVar[ActionName] = ActionName.SESSION_FINALIZE
    session_uuid: str

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionFinalize:
        """Validate a decoded body.

        Raises:
            InvalidArgument: ``session_uuid`` is missing or not a UUID.
        """
        return cls(_session_uuid(obj, request_what(cls.action)))

    def to_json(self) -> dict[str, Any]:
        """The body ``{"session_uuid"}``."""
        return {"session_uuid": self.session_uuid}


@attrs.frozen
class SessionDelete:
    """By session locator (the reference form) or, alternatively, by session UUID (§5.4.6)."""

    action: ClassVar[ActionName] = ActionName.SESSION_DELETE
    session: SessionLocator | None = None
    session_uuid: str | None = None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SessionDelete:
        """Validate a decoded body: ``locator`` wins; ``session_uuid`` is read only when
        ``locator`` is absent or null.

        Raises:
            InvalidArgument: neither form is given, or the one given is malformed.
        """
        what = request_what(cls.action)
        if obj.get("locator") is None and obj.get("session_uuid") is not None:
            return cls(session_uuid=parse_uuid(jb.req_str(obj, "session_uuid", what), "uuid"))
        return cls(session=SessionLocator.parse(jb.req_str(obj, "locator", what)))

    def to_json(self) -> dict[str, Any]:
        """The locator form when ``session`` is set, else ``{"session_uuid"}``."""
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
        """The body ``{"locator": <sequence>}``."""
        return {"locator": self.sequence}


@attrs.frozen
class TopicTarget:
    """``topic_delete`` and the topic notification list/purge: one topic locator."""

    action: ActionName
    topic: TopicLocator

    def to_json(self) -> dict[str, Any]:
        """The body ``{"locator": "<sequence>/<path>"}``."""
        return {"locator": str(self.topic)}


@attrs.frozen
class NotificationCreate:
    """``sequence_notification_create`` (``topic`` is None) or ``topic_notification_create``.

    Attributes:
        sequence: the sequence the notification is about (the topic's, for a topic one).
        topic: the topic, or None for a sequence notification.
        notification_type: one of ``NOTIFICATION_TYPES``.
        msg: free text, stored verbatim (§5.4.9).
    """

    sequence: str
    topic: TopicLocator | None
    notification_type: str
    msg: str

    @property
    def action(self) -> ActionName:
        """Which of the two create actions this is, decided by ``topic``."""
        if self.topic is None:
            return ActionName.SEQUENCE_NOTIFICATION_CREATE
        return ActionName.TOPIC_NOTIFICATION_CREATE

    def to_json(self) -> dict[str, Any]:
        """The body ``{"locator", "notification_type", "msg"}``, the locator of the target."""
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
    if "\x00" in msg:  # no text column of PostgreSQL can hold it
        raise InvalidArgument(f"{what}: msg must not contain the NUL character")
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
"""Any typed DoAction request: what ``parse_request`` returns and ``encode_request`` takes."""

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

    Args:
        name: the action name as received (``Action.type``).
        body: the UTF-8 JSON object of the action.
        max_bytes: the largest body accepted, or None for no limit.

    Raises:
        Unimplemented: an unknown action name.
        InvalidArgument: a body over ``max_bytes``, not a JSON object, or breaking the
            action's rules; the message names the key.

    >>> parse_request("session_create", b'{"locator": "/run-001"}')
    SessionCreate(sequence='run-001')
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
    """(action name, JSON body) of a request, ready for ``flight.Action(name, body)``."""
    return request.action.value, jb.dump_object(request.to_json())
