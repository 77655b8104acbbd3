"""GNSS tracks for the viewer: a `GPS` topic's positions, thinned to a few thousand points.

Latitude and longitude are read alone (the server reads only ``position.x`` and
``position.y``), batch by batch; every k-th fix is kept, k chosen from the catalogue's row
count so that about ``points`` fixes remain, plus the last one. Memory is bounded by
``points``, not by the topic's length.

>>> track = gps_track(source, points=2000)
>>> len(track.latitude) <= 2001
True
"""

from __future__ import annotations

import attrs
import numpy as np

from mosaico.ml.source import TIMESTAMP, TopicSource
from mosaico.tabular import flatten_table
from mosaico.viewer.errors import ViewerError

__all__ = ["GPS_TAG", "MAX_TRACK_POINTS", "Track", "gps_track"]

GPS_TAG = "GPS"
MAX_TRACK_POINTS = 100_000
_LAT, _LON = "position.x", "position.y"


@attrs.frozen
class Track:
    """Fixes of a track in time order: record times (int64 ns) and WGS-84 degrees; `rows`
    counts the fixes read before thinning."""

    timestamps_ns: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    rows: int


def gps_track(
    source: TopicSource, start_ns: int | None = None, end_ns: int | None = None,
    points: int = 2000, rows_hint: int | None = None,
) -> Track:  # fmt: skip
    """About ``points`` fixes of the topic in ``[start_ns, end_ns)``, evenly spaced in rows
    (fixes with a NaN coordinate left out).

    Args:
        rows_hint: the topic's row count (a catalogue figure) to choose the stride from;
            without it every fix is read into the track's arrays, then thinned.

    Raises:
        ViewerError: not a GPS topic, or ``points`` outside 1..`MAX_TRACK_POINTS`.
    """
    if source.tag != GPS_TAG:
        raise ViewerError(f"topic {source.name!r} is of type {source.tag}, not {GPS_TAG}")
    if not 1 <= points <= MAX_TRACK_POINTS:
        raise ViewerError(f"points must be in 1..{MAX_TRACK_POINTS}, got {points}")
    stride = max(1, -(-(rows_hint or 0) // points))
    ts_parts, lat_parts, lon_parts, seen = [], [], [], 0
    last = None
    for batch in source.batches(start_ns, end_ns, fields=[_LAT, _LON]):
        flat = flatten_table(batch)
        ts = flat.column(TIMESTAMP).to_numpy()
        lat = np.asarray(flat.column(_LAT).to_numpy(zero_copy_only=False), np.float64)
        lon = np.asarray(flat.column(_LON).to_numpy(zero_copy_only=False), np.float64)
        ok = np.flatnonzero(~(np.isnan(lat) | np.isnan(lon)))
        keep = ok[(seen + ok) % stride == 0]
        seen += batch.num_rows
        ts_parts.append(ts[keep])
        lat_parts.append(lat[keep])
        lon_parts.append(lon[keep])
        if ok.size:
            last = (ts[ok[-1]], lat[ok[-1]], lon[ok[-1]])
    track = _joined(ts_parts, lat_parts, lon_parts, last, seen)
    if track.latitude.size > points + 1:  # no hint, or a wrong one: thin what was kept
        step = -(-track.latitude.size // points)
        pick = np.r_[np.arange(0, track.latitude.size, step), track.latitude.size - 1]
        pick = np.unique(pick)
        track = Track(track.timestamps_ns[pick], track.latitude[pick], track.longitude[pick], seen)
    return track


def _joined(
    ts: list[np.ndarray], lat: list[np.ndarray], lon: list[np.ndarray],
    last: tuple[int, float, float] | None, rows: int,
) -> Track:  # fmt: skip
    """The kept fixes as one track, ending with the last fix read (the track's end)."""
    if last is None:
        empty = np.zeros(0)
        return Track(np.zeros(0, np.int64), empty, empty, rows)
    t, la, lo = np.concatenate(ts), np.concatenate(lat), np.concatenate(lon)
    if not t.size or t[-1] != last[0]:
        t, la, lo = np.r_[t, last[0]], np.r_[la, last[1]], np.r_[lo, last[2]]
    return Track(t.astype(np.int64), la, lo, rows)
