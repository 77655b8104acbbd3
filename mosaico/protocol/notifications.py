"""Notification records as listed by ``*_notification_list`` (spec §5.4.9).

A notification is a per-resource log line (type ``"error"`` only), written mostly by the
writers' error policies and read back by users.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from mosaico.protocol import jsonbody as jb
from mosaico.protocol.errors import InvalidArgument


def format_created_datetime(ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff UTC``: the form the reference client parses on Python 3.10.

    ``ns`` is wall-clock nanoseconds since the Unix epoch; sub-microsecond digits are dropped.
    """
    seconds, rest = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc) + timedelta(microseconds=rest // 1000)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


def parse_created_datetime(text: str) -> datetime:
    """An aware UTC ``datetime`` of a ``created_datetime`` text, as the reference client reads it.

    A trailing ``" UTC"`` and a text without offset both mean UTC.

    Raises:
        InvalidArgument: ``text`` is not an ISO-8601 date-time.
    """
    iso = text[: -len(" UTC")] + "+00:00" if text.endswith(" UTC") else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise InvalidArgument(f"created_datetime {text!r} is not a UTC date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@attrs.frozen
class Notification:
    """One listed notification (§5.4.9).

    Attributes:
        name: the resource's locator: a sequence name, or a topic locator ``seq/path``.
        notification_type: ``"error"``.
        msg: the stored message, verbatim.
        created_datetime: creation time as text (``format_created_datetime``); read it as a
            ``datetime`` with ``parse_created_datetime``.
    """

    name: str
    notification_type: str
    msg: str
    created_datetime: str

    def to_json(self) -> dict[str, Any]:
        """The list entry: the four keys as strings."""
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, obj: Any) -> Notification:
        """Read a list entry; every key is a required string.

        Raises:
            InvalidArgument: ``obj`` is not an object or a key is missing or not a string.
        """
        what = "notification"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} must be an object")
        return cls(*(jb.req_str(obj, key, what) for key in attrs.fields_dict(cls)))


def notifications_payload(items: list[Notification]) -> dict[str, Any]:
    """The ``*_notification_list`` payload ``{"notifications": [...]}`` (``[]`` when none)."""
    return {"notifications": [n.to_json() for n in items]}


def parse_notifications_payload(payload: Any) -> list[Notification]:
    """The notifications of a ``*_notification_list`` payload, in the order received.

    A "no payload" reply reads as an empty list, like the reference client does.

    Raises:
        InvalidArgument: the payload is not an object, or an entry is malformed.
    """
    if payload is None:
        return []
    if not isinstance(payload, dict):
        raise InvalidArgument("notification list payload must be an object")
    return [Notification.from_json(n) for n in jb.opt_list(payload, "notifications", "list")]
