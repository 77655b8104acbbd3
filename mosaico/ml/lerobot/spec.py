"""What goes where in a LeRobot dataset: `LeRobotStream`, parsed from ``TOPIC=KEY[:FIELDS]``.

KEY names the LeRobot feature:

- ``state`` -> ``observation.state``, ``action`` -> ``action``, ``environment_state`` ->
  ``observation.environment_state``: numeric features;
- a name with a dot is the feature name as given (``observation.velocity``,
  ``observation.images.front``; one under ``observation.image`` is a camera, any other a
  numeric feature);
- any other name is a camera: ``front`` -> ``observation.images.front``.

A numeric feature may take several topics (``--stream /left=state --stream /right=state``):
their values are concatenated in the order given. A camera takes exactly one image topic.
FIELDS (numeric topics only) is a comma-separated list of flat field paths or struct
prefixes (``/joints=state:positions,velocities``); without it a topic gives every numeric
leaf except the fields of the standard mixins (measurement headers, covariances, variances).
A struct prefix gives its leaves by the same rule (``/imu=state:acceleration`` is
``acceleration.x``, ``.y``, ``.z``); a field named in full is always given.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from mosaico.ml.errors import MLInputError

STATE, ACTION, ENVIRONMENT_STATE = "observation.state", "action", "observation.environment_state"
_SHORT = {"state": STATE, "action": ACTION, "environment_state": ENVIRONMENT_STATE}
CAMERA_PREFIX = "observation.images."
_CAMERA_NAMES = ("observation.image",)


def _fields(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class LeRobotStream:
    """One topic's part of a LeRobot feature: the topic, the feature key, and for a numeric
    topic the fields it gives (None: every numeric leaf but the standard mixins' fields).

    Raises:
        MLInputError: an empty topic or key, a key LeRobot cannot take (``/`` in it), or
            fields on a camera key.

    >>> LeRobotStream("/joints", "state", ("positions",)).feature
    'observation.state'
    >>> LeRobotStream("/camera/front", "front").feature
    'observation.images.front'
    """

    topic: str
    key: str
    fields: tuple[str, ...] | None = attrs.field(default=None, converter=_fields)

    def __attrs_post_init__(self) -> None:
        if not self.topic or not self.key:
            raise MLInputError(f"stream {self.topic}={self.key}: topic and key must be non-empty")
        if "/" in self.key:
            raise MLInputError(f"stream {self.topic}={self.key}: a LeRobot key cannot hold '/'")
        if self.camera and self.fields is not None:
            raise MLInputError(
                f"stream {self.topic}={self.key}: a camera takes the whole image, not fields"
            )
        if self.fields is not None and (not self.fields or not all(self.fields)):
            raise MLInputError(f"stream {self.topic}={self.key}: empty field name")

    @property
    def feature(self) -> str:
        """The LeRobot feature name the key stands for."""
        if self.key in _SHORT:
            return _SHORT[self.key]
        return self.key if "." in self.key else CAMERA_PREFIX + self.key

    @property
    def camera(self) -> bool:
        """Whether the feature is a camera (a video), not a numeric vector."""
        name = self.feature
        return name.startswith(CAMERA_PREFIX) or name in _CAMERA_NAMES

    @classmethod
    def parse(cls, text: str) -> LeRobotStream:
        """``TOPIC=KEY`` or ``TOPIC=KEY:FIELD[,FIELD...]``.

        Raises:
            MLInputError: no ``=``, an empty part, or as `LeRobotStream`.

        >>> LeRobotStream.parse("/joints=state:positions,velocities").fields
        ('positions', 'velocities')
        """
        topic, sep, rest = text.partition("=")
        if not sep:
            raise MLInputError(f"stream {text!r}: expected TOPIC=KEY or TOPIC=KEY:FIELD,...")
        key, colon, fields = rest.partition(":")
        names = tuple(f.strip() for f in fields.split(",")) if colon else None
        return cls(topic.strip(), key.strip(), names)
