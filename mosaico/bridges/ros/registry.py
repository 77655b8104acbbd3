"""Choosing the adapter of a topic: standard by ROS type, per-topic override, or generic."""

from __future__ import annotations

from rosbags.typesys.store import Typestore

# The adapter modules register themselves on import.
from mosaico.bridges.ros import geometry_adapters, nav_adapters, sensor_adapters, std_adapters
from mosaico.bridges.ros.adapter import ADAPTERS, TopicAdapter
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.generic import GENERIC, GenericAdapter

__all__ = ["ADAPTERS", "GENERIC", "adapter_for", "standard_ros_types"]
_MODULES = (geometry_adapters, nav_adapters, sensor_adapters, std_adapters)


def standard_ros_types() -> list[str]:
    """ROS types with a standard adapter."""
    return sorted(ADAPTERS)


def adapter_for(typestore: Typestore, ros_type: str, override: str | None = None) -> TopicAdapter:
    """The adapter for a topic of `ros_type`.

    `override` is `"generic"` (keep the message layout as is) or a ROS type whose standard
    adapter should read these messages (e.g. a custom type with the fields of
    `sensor_msgs/msg/Imu`). Without it: the standard adapter of the type, else generic.

    Raises:
        RosBridgeError: `override` is neither `"generic"` nor a type with a standard adapter;
            or the generic adapter cannot hold the type (see `GenericAdapter.for_type`).
        KeyError: the generic adapter's type is not in `typestore`.

    >>> adapter_for(source.typestore, "my_msgs/msg/Imu", "sensor_msgs/msg/Imu").name
    'sensor_msgs/msg/Imu'
    """
    if override == GENERIC:
        return GenericAdapter.for_type(typestore, ros_type)
    if override is not None:
        if override not in ADAPTERS:
            raise RosBridgeError(
                f"unknown adapter {override!r}: use 'generic' or a ROS type with a standard "
                f"adapter ({', '.join(standard_ros_types())})"
            )
        return ADAPTERS[override]
    if ros_type in ADAPTERS:
        return ADAPTERS[ros_type]
    return GenericAdapter.for_type(typestore, ros_type)
