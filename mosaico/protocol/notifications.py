"""Notification records as listed by ``*_notification_list`` (spec §5.4.9)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.errors import InvalidArgument


def format_created_datetime(ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff UTC``: the form the reference client parses on Python 3.10."""
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc) + timedelta(microseconds=rest // 1000)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


def parse_created_datetime(text: str) -> datetime:
    iso = text[: -len(" UTC")] + "+00:00" if text.endswith(" UTC") else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise InvalidArgument(f"created_datetime {text!r} is not a UTC date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@attrs.frozen
class Notification:
    name: str
    notification_type: str
    msg: str
    created_datetime: str

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, obj: Any) -> Notification:
        what = "notification"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} must be an object")
        return cls(*(jb.req_str(obj, key, what) for key in attrs.fields_dict(cls)))


def notifications_payload(items: list[Notification]) -> dict[str, Any]:
    return {"notifications": [n.to_json() for n in items]}


def parse_notifications_payload(payload: Any) -> list[Notification]:
    """A "no payload" reply reads as an empty list, like the reference client does."""
    if payload is None:
        return []
    if not isinstance(payload, dict):
        raise InvalidArgument("notification list payload must be an object")
    return [Notification.from_json(n) for n in jb.opt_list(payload, "notifications", "list")]
