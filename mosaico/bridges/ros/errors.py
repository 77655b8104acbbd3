"""Errors of the ROS bridge."""

from __future__ import annotations

from mosaico.errors import InputError


class RosBridgeError(InputError):
    """Bad ROS input or a bad request: raised before anything is written whenever possible."""


class TopicFailure(RosBridgeError):
    """A failure confined to one topic (a message that does not convert, a batch a sink
    rejects for its values): that topic is stopped and reported, the others go on."""
