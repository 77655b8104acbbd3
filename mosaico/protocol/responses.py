"""Strict action payloads (spec §5.2): ``session_create`` and ``topic_create`` replies.

The reference client builds these from every key of the payload, so an extra key breaks
it: ``to_json`` writes exactly the spec's keys and ``from_json`` accepts nothing else.
"""

from __future__ import annotations

from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import SessionLocator


def _exact_keys(obj: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != keys:
        raise InvalidArgument(f"{what} must be an object with exactly the keys {sorted(keys)}")
    return obj


@attrs.frozen
class SessionCreated:
    """The ``session_create`` payload (§5.4.3).

    Attributes:
        uuid: the session's write handle, for ``topic_create`` and ``session_finalize``.
        locator: its public name ``<sequence>:<id>``, for ``session_delete``.
    """

    uuid: str
    locator: SessionLocator

    def to_json(self) -> dict[str, Any]:
        """Exactly ``{"uuid", "locator"}``."""
        return {"uuid": self.uuid, "locator": str(self.locator)}

    @classmethod
    def from_json(cls, obj: Any) -> SessionCreated:
        """Read the payload.

        Raises:
            InvalidArgument: not an object with exactly ``uuid`` and ``locator``, or a
                malformed value.
        """
        what = "session_create response"
        obj = _exact_keys(obj, {"uuid", "locator"}, what)
        return cls(jb.req_str(obj, "uuid", what), SessionLocator.parse(obj["locator"]))


@attrs.frozen
class TopicCreated:
    """The ``topic_create`` payload (§5.4.4): ``uuid`` is the topic's upload key for DoPut."""

    uuid: str

    def to_json(self) -> dict[str, Any]:
        """Exactly ``{"uuid"}``."""
        return {"uuid": self.uuid}

    @classmethod
    def from_json(cls, obj: Any) -> TopicCreated:
        """Read the payload.

        Raises:
            InvalidArgument: not an object with exactly ``uuid``, or a non-string ``uuid``.
        """
        what = "topic_create response"
        return cls(jb.req_str(_exact_keys(obj, {"uuid"}, what), "uuid", what))
