"""Synchronisation policies and stream specs: what value a stream shows at a grid tick.

Every policy only ever looks at samples at or before the tick, except `Interpolate`, which
also looks at the first sample after it; none gives a value before a stream's first sample.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from mosaico.ml.errors import MLInputError
from mosaico.ml.timekey import check_timestamp_source


@attrs.frozen
class Hold:
    """The last sample at or before the tick (zero-order hold)."""


@attrs.frozen
class AsOf:
    """The last sample at or before the tick, if at most `tolerance_ns` old; else null.

    Raises:
        MLInputError: `tolerance_ns` is not an integer >= 0.

    >>> AsOf(50_000_000)  # a GPS fix older than 50 ms reads as missing
    AsOf(tolerance_ns=50000000)
    """

    tolerance_ns: int

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.tolerance_ns, int) or self.tolerance_ns < 0:
            raise MLInputError(
                f"AsOf tolerance_ns must be an integer >= 0, got {self.tolerance_ns!r}"
            )


@attrs.frozen
class Drop:
    """The last sample inside the tick's window `(previous tick, tick]`; else null.

    A sample is never repeated on a later tick. The window of a rate grid's first tick is one
    period long; that of a reference grid's first tick is unbounded on the left.
    """


def _opt_tuple(v: Iterable[str] | None) -> tuple[str, ...] | None:
    if isinstance(v, str):
        return (v,)
    return None if v is None else tuple(v)


@attrs.frozen
class Interpolate:
    """Linear interpolation of float fields and slerp of quaternions between the samples
    around the tick; null after a stream's last sample (no extrapolation).

    `fields` names what to interpolate (default: every float field and quaternion); the
    other selected fields take the value of the sample at or before the tick.

    Quaternions: those the ontology declares (`slerp:` in a type's YAML) always slerp. On a
    topic without a registered type (a generic ROS message, a hand-built `TopicType`), a
    struct of exactly four float fields x, y, z, w named like a quaternion (`orientation`,
    `rotation`, `quaternion`, `quat`, `attitude`, `q`) is found by itself; `slerp` names the
    quaternion structs instead (flat paths such as `"pose.orientation"`; `slerp=()`: none
    besides the ontology's).

    >>> Interpolate(["acceleration", "orientation"])
    Interpolate(fields=('acceleration', 'orientation'), slerp=None)
    >>> Interpolate(slerp=["pose.orientation", "att"]).slerp
    ('pose.orientation', 'att')
    """

    fields: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    slerp: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)


Policy = Hold | AsOf | Drop | Interpolate


@attrs.frozen
class Stream:
    """A topic to synchronise: its policy, optional field selection and time key.

    Fields are flat paths (`acceleration.x`) or struct prefixes (`acceleration`); None keeps
    every field. `timestamp` is the time this topic's rows are aligned on, when it is not
    the synchronisation's (`"record"`, `"header"`, or a time field of the topic: integer ns
    such as `"meas_time_ns"`, or seconds and nanoseconds such as `"header.stamp"`; see
    `mosaico.ml.timekey`). A plain topic name where a `Stream` is expected means
    `Stream(name)`.

    Raises:
        MLInputError: `policy` is not one of `Hold`, `AsOf`, `Drop`, `Interpolate`, or
            `timestamp` is not a non-empty string.

    >>> Stream("/gps", AsOf(100_000_000), fields="position")
    Stream(topic='/gps', policy=AsOf(tolerance_ns=100000000), fields=('position',), timestamp=None)
    >>> Stream("/ins", Interpolate(), timestamp="measurement.time_ns").timestamp
    'measurement.time_ns'
    """

    topic: str
    policy: Policy = attrs.field(factory=Hold)
    fields: tuple[str, ...] | None = attrs.field(default=None, converter=_opt_tuple)
    timestamp: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.policy, Hold | AsOf | Drop | Interpolate):
            raise MLInputError(f"stream {self.topic!r}: unknown policy {self.policy!r}")
        if self.timestamp is not None:
            check_timestamp_source(self.timestamp)
