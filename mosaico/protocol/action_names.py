"""DoAction names (spec §5.3) and which of them reply page by page (§5.2).

A module of its own because every request document names its action: ``actions`` (the
control-plane requests) and ``query`` / ``temporal`` (the query requests) all import it.
"""

from __future__ import annotations

from enum import Enum

from mosaico.protocol.errors import Unimplemented


class ActionName(str, Enum):
    """The DoAction names of spec §5.3; a member's value is its name on the wire.

    A ``str`` enum, so a member equals its wire name: ``ActionName.QUERY == "query"``.
    ``action_name`` turns a received name into a member.
    """

    INFO = "info"
    SEQUENCE_CREATE = "sequence_create"
    SESSION_CREATE = "session_create"
    TOPIC_CREATE = "topic_create"
    SESSION_FINALIZE = "session_finalize"
    SESSION_DELETE = "session_delete"
    SEQUENCE_DELETE = "sequence_delete"
    TOPIC_DELETE = "topic_delete"
    SEQUENCE_NOTIFICATION_CREATE = "sequence_notification_create"
    TOPIC_NOTIFICATION_CREATE = "topic_notification_create"
    SEQUENCE_NOTIFICATION_LIST = "sequence_notification_list"
    TOPIC_NOTIFICATION_LIST = "topic_notification_list"
    SEQUENCE_NOTIFICATION_PURGE = "sequence_notification_purge"
    TOPIC_NOTIFICATION_PURGE = "topic_notification_purge"
    QUERY = "query"
    TOPIC_FILTER_CLUSTERIZE = "topic_filter_clusterize"
    TOPIC_FILTER_INTERSECT = "topic_filter_intersect"


# Actions whose reply is one envelope per Result instead of one document (§5.2).
PAGED_ACTIONS = frozenset({ActionName.TOPIC_FILTER_CLUSTERIZE, ActionName.TOPIC_FILTER_INTERSECT})


def action_name(raw: str) -> ActionName:
    """The action called ``raw``; an unknown name is ``Unimplemented`` (§5.1)."""
    try:
        return ActionName(raw)
    except ValueError:
        raise Unimplemented(f"unknown action {raw!r}") from None


def request_what(action: ActionName) -> str:
    """How error messages name the body of ``action``: ``"<action> request"``."""
    return f"{action.value} request"
