"""Strict action payloads (spec §5.2): ``session_create`` and ``topic_create`` replies."""

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
    uuid: str
    locator: SessionLocator

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "locator": str(self.locator)}

    @classmethod
    def from_json(cls, obj: Any) -> SessionCreated:
        what = "session_create response"
        obj = _exact_keys(obj, {"uuid", "locator"}, what)
        return cls(jb.req_str(obj, "uuid", what), SessionLocator.parse(obj["locator"]))


@attrs.frozen
class TopicCreated:
    uuid: str

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid}

    @classmethod
    def from_json(cls, obj: Any) -> TopicCreated:
        what = "topic_create response"
        return cls(jb.req_str(_exact_keys(obj, {"uuid"}, what), "uuid", what))
