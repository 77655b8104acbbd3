"""Errors of the ROS bridge."""

from __future__ import annotations


class RosBridgeError(ValueError):
    """Bad ROS input or a bad request: raised before anything is written whenever possible."""
