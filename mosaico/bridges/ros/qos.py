"""A topic's quality of service: ROS 2 offered QoS profiles, the ROS 1 connection header.

Ingest keeps them in the topic's `_ros_` metadata (`qos`: the profiles as rosbag2
metadata writes them; `latching` and `callerid`: the ROS 1 header fields); export writes
them back. Across generations a latched ROS 1 topic becomes a transient-local ROS 2 topic
and the other way round, as `rosbags-convert` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rosbags.interfaces import (
    Connection,
    ConnectionExtRosbag1,
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2.errors import ReaderError
from rosbags.rosbag2.metadata import dump_qos_v9, parse_qos

from mosaico.bridges.ros.errors import RosBridgeError

_INFINITE = QosTime(2147483647, 4294967295)
# The profile of a latched ROS 1 topic in ROS 2 (rosbag2's and rosbags' choice).
LATCHED = Qos(
    QosHistory.UNKNOWN,
    0,
    QosReliability.RELIABLE,
    QosDurability.TRANSIENT_LOCAL,
    _INFINITE,
    _INFINITE,
    QosLiveliness.AUTOMATIC,
    _INFINITE,
    avoid_ros_namespace_conventions=False,
)


def recorded_qos(connections: Sequence[Connection]) -> dict[str, Any]:
    """The `_ros_` entries for the QoS of a topic's connections (the first that has any):
    `qos` for rosbag2, `latching` / `callerid` for ROS 1; empty when none is recorded."""
    out: dict[str, Any] = {}
    for conn in connections:
        ext = conn.ext
        if isinstance(ext, ConnectionExtRosbag1):
            if ext.latching is not None:
                out.setdefault("latching", ext.latching)
            if ext.callerid is not None:
                out.setdefault("callerid", ext.callerid)
        elif ext.offered_qos_profiles and "qos" not in out:
            out["qos"] = dump_qos_v9(list(ext.offered_qos_profiles))
    return out


def ros2_profiles(ros: dict[str, Any]) -> list[Qos]:
    """The offered QoS profiles to write for a topic of `_ros_` metadata `ros`.

    Raises:
        RosBridgeError: the stored `qos` entry is not a list of QoS profiles.
    """
    if "qos" in ros:
        try:
            return parse_qos(ros["qos"])
        except KeyError as exc:
            raise RosBridgeError(f"bad QoS metadata (_ros_.qos): a profile lacks {exc}") from None
        except (ReaderError, TypeError, ValueError, AttributeError) as exc:
            raise RosBridgeError(f"bad QoS metadata (_ros_.qos): {exc}") from None
    return [LATCHED] if _flag(ros.get("latching")) else []


def ros1_header(ros: dict[str, Any]) -> dict[str, Any]:
    """`latching` and `callerid` keyword arguments of rosbags' ROS 1 `add_connection`.

    Raises:
        RosBridgeError: a stored entry has the wrong type.
    """
    latching, callerid = ros.get("latching"), ros.get("callerid")
    if latching is None and "qos" in ros:
        durable = QosDurability.TRANSIENT_LOCAL
        latching = int(any(p.durability == durable for p in ros2_profiles(ros))) or None
    if (latching is not None and not _flag_like(latching)) or not (
        callerid is None or isinstance(callerid, str)
    ):
        raise RosBridgeError(
            f"bad ROS 1 connection metadata: latching {latching!r}, callerid {callerid!r}"
        )
    return {"latching": None if latching is None else int(latching), "callerid": callerid}


def _flag_like(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _flag(value: Any) -> bool:
    return _flag_like(value) and bool(value)
