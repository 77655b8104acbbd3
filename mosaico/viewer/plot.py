"""Plots of downsampled series with matplotlib (the ``plot`` extra), for notebooks and
``mosaico plot``.

The figure is a plain ``matplotlib.figure.Figure`` (no pyplot, no display: it saves
through Agg), each field one line of its `downsample`d points, overlaid with a legend.

>>> fig = plot(client.topic_handler("run-1", "/imu"), ["acceleration.x", "acceleration.z"])
>>> fig.savefig("imu.svg")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mosaico.client import TopicHandler
from mosaico.extras import require
from mosaico.ml.source import TopicSource
from mosaico.viewer.errors import ViewerError
from mosaico.viewer.series import DEFAULT_BUCKETS, Series, downsample

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TimeAxis = Literal["seconds", "utc"]


def plot(
    topic: TopicSource | TopicHandler,
    fields: Sequence[str],
    start_ns: int | None = None,
    end_ns: int | None = None,
    *,
    buckets: int = DEFAULT_BUCKETS,
    ax: Axes | None = None,
    time_axis: TimeAxis = "seconds",
) -> Figure:
    """A figure of ``fields`` of ``topic`` over ``[start_ns, end_ns)``, downsampled to
    ``buckets`` time buckets (see `downsample`).

    Args:
        topic: a `TopicSource` or a client ``TopicHandler``.
        fields: flat dotted names of numeric fields, overlaid in this order.
        start_ns: start of the range (inclusive); default: the topic's first record.
        end_ns: end of the range (exclusive); default: just after its last record.
        buckets: time buckets (the plot's width in pixels).
        ax: draw into these axes (their figure is returned); default: a new figure.
        time_axis: ``"seconds"`` from the range's start, or ``"utc"`` date-times.

    Raises:
        MissingExtraError: matplotlib is not installed (the ``plot`` extra).
        ViewerError: what `downsample` refuses, a bad ``time_axis``, or no sample of any
            field in the range.
    """
    require("plot", "matplotlib")
    if time_axis not in ("seconds", "utc"):
        raise ViewerError(f"time_axis must be 'seconds' or 'utc', got {time_axis!r}")
    series = downsample(topic, fields, start_ns, end_ns, buckets)
    first = next(iter(series.values()))
    if not any(s.values.size for s in series.values()):
        raise ViewerError(
            f"topic {topic.name!r}: no samples of {', '.join(series)} in "
            f"[{first.start_ns}, {first.end_ns}) ns"
        )
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(10, 4), layout="constrained").add_subplot()
    for s in series.values():
        # The gid names the line in an SVG (``<g id="series:acceleration.x">``).
        ax.plot(_x(s, time_axis), s.values, label=_label(s), linewidth=0.8, gid=f"series:{s.field}")
    _decorate(ax, topic.name, list(series.values()), time_axis)
    figure = ax.get_figure()
    assert figure is not None
    return figure  # type: ignore[return-value]


def _x(s: Series, time_axis: TimeAxis) -> Any:
    if time_axis == "utc":
        return s.timestamps_ns.astype("datetime64[ns]")
    return (s.timestamps_ns - s.start_ns) / 1e9


def _label(s: Series) -> str:
    return s.field if s.unit is None else f"{s.field} [{s.unit}]"


def _decorate(ax: Axes, title: str, series: list[Series], time_axis: TimeAxis) -> None:
    units = {s.unit for s in series}
    unit = units.pop() if len(units) == 1 else None
    if unit is not None:
        ax.set_ylabel(unit)
    if time_axis == "utc":
        ax.set_xlabel("time (UTC)")
    else:
        start = np.datetime64(series[0].start_ns, "ns")
        ax.set_xlabel(f"seconds from {np.datetime_as_string(start, unit='ms')}Z")
    ax.set_title(title)
    ax.legend(loc="upper right")
    ax.grid(True, linewidth=0.3)
