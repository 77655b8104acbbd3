"""Align several topics on one grid (a rate, or a reference topic's timestamps).

The engine walks the data in time windows. Per stream it carries the last sample before the
window (what hold, as-of, drop and the left side of interpolation need) and reads one sample
past it (the right side of interpolation), so chunked output equals the one-shot output.
Output: one flat table, `timestamp_ns` (the ticks) then `<topic>.<field path>` columns.
The grid (`mosaico.ml.grid`) says where the ticks are; `mosaico.ml.plan` which columns
each stream keeps and how they align; `mosaico.ml.reads` which fields each topic reads (only
those: a reference grid's own topic reads its timestamps alone); `mosaico.ml.align` does the
vectorised work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

import attrs
import numpy as np
import pyarrow as pa

from mosaico.ml.align import Bracket, pick, take_rows
from mosaico.ml.cursor import Cursor
from mosaico.ml.errors import MLInputError, check_ns
from mosaico.ml.flatten import FixedLists, check_fixed_lists, flatten_table
from mosaico.ml.grid import Grid, Numbering, RunStart, Ticks, make_grid
from mosaico.ml.plan import Plan, plan
from mosaico.ml.policy import Interpolate, Stream
from mosaico.ml.reads import projected_sources
from mosaico.ml.seek import first_key, last_before, last_key, records_from, seed
from mosaico.ml.source import TopicSource
from mosaico.ml.timekey import TimeKey, TimestampSource, check_timestamp_source
from mosaico.protocol.topic_type import TIMESTAMP

if TYPE_CHECKING:
    from typing import Unpack

_FOREVER = np.iinfo(np.int64).max

SEED_LOOKBACK_NS = 1_000_000_000
"""How far before a run's start its topics keyed on record time are read, to find each
one's last sample before the start in the same stream as its data."""

Taken = tuple[list[pa.RecordBatch], np.ndarray]
"""The rows one topic hands to a window, and their keys."""

Seed = tuple[pa.RecordBatch | None, int | None]
"""A topic's last row before a run, and the record time to read the rest from."""


class SyncOptions(TypedDict, total=False):
    """The keywords of `Synchronizer` that `synchronize` and `iter_synchronized` pass on.

    `rate_hz` or `reference` (exactly one) picks the grid; `timestamp` the time to align
    on ("record", default; "header"; or a time field such as "meas_time_ns" or
    "header.stamp", see `mosaico.ml.timekey`), unless a `Stream` names its own;
    `fixed_lists` ("columns", default, or "arrays") how fixed-size lists flatten.
    """

    rate_hz: float | None
    reference: str | None
    timestamp: TimestampSource
    fixed_lists: FixedLists


def _specs(streams: Sequence[Stream | str]) -> list[Stream]:
    specs = [Stream(s) if isinstance(s, str) else s for s in streams]
    if not specs:
        raise MLInputError("no stream to synchronise")
    seen: set[str] = set()
    for s in specs:
        if s.topic in seen:
            raise MLInputError(f"topic {s.topic!r} given twice")
        seen.add(s.topic)
    return specs


def _time_keys(
    sources: Mapping[str, TopicSource], specs: Sequence[Stream], grid: Iterable[str],
    timestamp: TimestampSource,
) -> dict[str, TimeKey]:  # fmt: skip
    """Each topic's time key: its stream's own, else `timestamp`; the topics checked."""
    own = {s.topic: s.timestamp for s in specs if s.timestamp is not None}
    keys: dict[str, TimeKey] = {}
    for topic in [s.topic for s in specs] + list(grid):
        if topic not in sources:
            known = ", ".join(sorted(sources)) or "none"
            raise MLInputError(f"unknown topic {topic!r} (topics: {known})")
        key = own.get(topic, timestamp)
        keys[topic] = TimeKey.resolve(key, topic, sources[topic].schema)
    return keys


def _check_run(
    start_ns: int | None, end_ns: int | None, chunk_ns: int | None, origin_ns: int | None
) -> None:
    check_ns(start_ns=start_ns, end_ns=end_ns, chunk_ns=chunk_ns, origin_ns=origin_ns)
    if chunk_ns is not None and chunk_ns <= 0:
        raise MLInputError(f"chunk_ns must be > 0, got {chunk_ns}")


def _collect(tables: Iterable[pa.Table], schema: pa.Schema) -> pa.Table:
    parts = list(tables)
    return pa.concat_tables(parts) if parts else schema.empty_table()


class _Aligner:
    """One stream during a run: its plan and the row carried over from the last window."""

    def __init__(self, p: Plan, source: TopicSource, fixed_lists: FixedLists) -> None:
        self.plan = p
        self.topic = p.stream.topic
        self._empty = source.schema.empty_table()
        self._fixed_lists: FixedLists = fixed_lists
        self._carry: tuple[pa.Table, int] | None = None

    def seed(self, row: pa.RecordBatch, key: int) -> None:
        """Carry the stream's last row before the run into its first window."""
        self._carry = (self.flat(row), key)

    def flat(self, rows: pa.Table | pa.RecordBatch) -> pa.Table:
        """The plan's flat columns of some rows of the topic."""
        return flatten_table(rows, fixed_lists=self._fixed_lists).select(self.plan.columns)

    def columns(
        self, taken: Taken, cursor: Cursor, ticks: np.ndarray, prev_ticks: np.ndarray
    ) -> list[pa.ChunkedArray | pa.Array]:
        """The stream's output columns at the window's ticks."""
        rows, keys = self._with_carry(taken)
        policy = self.plan.stream.policy
        if isinstance(policy, Interpolate):
            return self._interpolated(rows, keys, cursor.peek(), ticks)
        idx, valid = pick(keys, ticks, prev_ticks, policy)
        return list(take_rows(rows, idx, valid).columns)

    def _with_carry(self, taken: Taken) -> tuple[pa.Table, np.ndarray]:
        """The window's rows after the carried one; the last becomes the next carry."""
        batches, keys = taken
        rows = self.flat(pa.Table.from_batches(batches) if batches else self._empty)
        if self._carry is not None:
            rows = pa.concat_tables([self._carry[0], rows])
            keys = np.concatenate([np.array([self._carry[1]], np.int64), keys])
        if keys.size:
            self._carry = (rows.slice(rows.num_rows - 1, 1), int(keys[-1]))
        return rows, keys

    def _interpolated(
        self,
        rows: pa.Table,
        keys: np.ndarray,
        ahead: tuple[pa.RecordBatch, int] | None,
        ticks: np.ndarray,
    ) -> list[pa.ChunkedArray | pa.Array]:
        if ahead is not None:
            rows = pa.concat_tables([rows, self.flat(ahead[0])])
            keys = np.concatenate([keys, [ahead[1]]])
        p = self.plan
        br = Bracket(keys, ticks)
        out = dict(zip(p.held, take_rows(rows.select(p.held), br.left, br.valid).columns))
        for c in p.lerp:
            out[c] = br.lerp(rows.column(c))
        for group in p.slerp:
            out.update(zip(group, br.slerp([rows.column(c) for c in group])))
        return [out[c] for c in p.columns]


class Synchronizer:
    """A validated synchronisation plan over a set of topic sources.

    Args:
        sources: the topics, by name.
        streams: the topics to align (names, or `Stream`s with a policy and fields).
        rate_hz: tick at this rate (a `RateGrid`); or
        reference: tick at each row of this topic (a `ReferenceGrid`).
        timestamp: the time to align on: record time ("record"), the sensor's
            `header.timestamp` ("header") or a time field's path (integer ns, or seconds and
            nanoseconds: "header.stamp"); a `Stream(timestamp=...)` overrides it.
        fixed_lists: fixed-size lists as one column per element, or as arrays.

    Raises:
        MLInputError: no or two grids, a bad rate, an unknown or repeated topic or field,
            or a topic without the time field to align on.

    `schema` is the output schema: `timestamp_ns` (the ticks), then each stream's columns
    as `<topic>.<field path>`, all nullable. No data is read until `run` or `table`; then
    each topic reads only the fields it uses (`reads`: by topic, the sources as read).

    >>> sync = Synchronizer(
    ...     sources, [Stream("/imu", Interpolate()), Stream("/gps", AsOf(50_000_000))],
    ...     reference="/camera",
    ... )
    >>> sync.table(start_ns=t0, end_ns=t0 + 10 * 10**9).num_rows  # one row per frame
    150
    """

    def __init__(
        self,
        sources: Mapping[str, TopicSource],
        streams: Sequence[Stream | str],
        *,
        rate_hz: float | None = None,
        reference: str | None = None,
        timestamp: TimestampSource = "record",
        fixed_lists: FixedLists = "columns",
    ) -> None:
        check_timestamp_source(timestamp)
        self.grid: Grid = make_grid(rate_hz, reference)
        specs = _specs(streams)
        self.time_keys = _time_keys(sources, specs, self.grid.reads, timestamp)
        check_fixed_lists(fixed_lists)
        self.sources = sources
        self.timestamp: TimestampSource = timestamp
        self.fixed_lists: FixedLists = fixed_lists
        self.plans = [plan(s, sources[s.topic], fixed_lists) for s in specs]
        fields = [pa.field(TIMESTAMP, pa.int64(), nullable=False)]
        for p in self.plans:
            fields += list(p.out_schema)
        self.schema = pa.schema(fields)
        # Every topic a run reads: the streams, then the grid's own.
        self._topics = list(dict.fromkeys([s.topic for s in specs] + list(self.grid.reads)))
        self._streams = [s.topic for s in specs]
        self.reads = projected_sources(
            sources, self.plans, self._topics, self.time_keys, fixed_lists
        )

    # --- what the grid asks about the data ------------------------------------------------

    def origin(self, start_ns: int | None) -> int | None:
        """First tick of a rate grid: `start_ns`, else the earliest first sample."""
        if start_ns is not None:
            return start_ns
        firsts = [first_key(self.reads[t], self.time_keys[t]) for t in self._streams]
        seen = [k for k in firsts if k is not None]
        return min(seen) if seen else None

    def last_key(self) -> int | None:
        """The latest last sample of the streams."""
        lasts = [last_key(self.reads[t], self.time_keys[t]) for t in self._streams]
        seen = [k for k in lasts if k is not None]
        return max(seen) if seen else None

    def keys(self, topic: str) -> np.ndarray:
        """Every key of a topic, in order (reads the topic)."""
        source, key = self.reads[topic], self.time_keys[topic]
        keys = [key.keys(b)[0] for b in source.batches(None, None)]
        return np.concatenate(keys) if keys else np.empty(0, np.int64)

    def numbering(self) -> Numbering:
        """The grid's ticks over the whole data, numbered from 0 (for the datasets)."""
        return self.grid.number(self)

    # --- engine ---------------------------------------------------------------------------

    def run(
        self,
        *,
        start_ns: int | None = None,
        end_ns: int | None = None,
        chunk_ns: int | None = None,
        origin_ns: int | None = None,
        data_ns: tuple[int | None, int | None] | None = None,
    ) -> Iterator[pa.Table]:
        """Synchronised tables of ticks in `[start_ns, end_ns)`, one per non-empty chunk.

        Data is read from the `data_ns` range (default: the tick range). A tick
        range that starts after the data range is seeded with the last sample of each stream
        before it (record or header time), which lets independent workers compute disjoint
        pieces of one result. `origin_ns` pins a rate grid's first tick.

        Args:
            start_ns: the first tick time (inclusive); None: the grid's origin or the
                first sample.
            end_ns: the end of the ticks (exclusive); None: just past the last sample.
            chunk_ns: the length of each window read at a time; None: one window.
            origin_ns: a rate grid's first tick, pinned.
            data_ns: the `(start, end)` record-time range to read from.

        Raises:
            MLInputError: a time that is not integer ns, `chunk_ns` <= 0, or a topic whose
                keys go backwards (found while reading).
        """
        _check_run(start_ns, end_ns, chunk_ns, origin_ns)
        if start_ns is not None and end_ns is not None and end_ns <= start_ns:
            return
        data_start, data_end = (start_ns, end_ns) if data_ns is None else data_ns
        read_from = start_ns if start_ns is not None else data_start
        seeds, cursors = self._open(start_ns, data_start, data_end)
        for t, r in self._records_from(seeds, read_from).items():
            if t not in cursors:
                cursors[t] = Cursor(
                    self.reads[t], read_from, data_end, self.time_keys[t], records_from=r
                )
        ticks = self.grid.start(self, RunStart(read_from, origin_ns, self._seed_keys(seeds)))
        if ticks is None:
            return
        w0 = start_ns if start_ns is not None else _first_window(ticks, cursors.values())
        if w0 is None:
            return
        aligners = [
            self._aligner(p, seeds.get(p.stream.topic, (None, None))[0]) for p in self.plans
        ]
        yield from _Run(self.schema, cursors, aligners, ticks, end_ns, chunk_ns).tables(w0)

    def table(self, *, start_ns: int | None = None, end_ns: int | None = None) -> pa.Table:
        """One synchronised table of the ticks in `[start_ns, end_ns)` (typed, maybe empty).

        Raises:
            MLInputError: as `run`.
        """
        return _collect(self.run(start_ns=start_ns, end_ns=end_ns), self.schema)

    def ticks_table(self, numbering: Numbering, k0: int, k1: int) -> pa.Table:
        """Exactly ticks `k0 .. k1 - 1` of `numbering`, synchronised on their own: each
        stream is seeded with its last sample before them, so the rows equal those of the
        whole run."""
        start, end, skip = numbering.span(k0, k1)
        tables = self.run(
            start_ns=start, end_ns=end, origin_ns=numbering.origin, data_ns=(None, None)
        )
        table = _collect(tables, self.schema).slice(skip, k1 - k0)
        if table.num_rows != k1 - k0:
            raise RuntimeError(f"ticks {k0}..{k1 - 1}: {table.num_rows} ticks, want {k1 - k0}")
        return table

    def _open(
        self, start_ns: int | None, floor: int | None, data_end: int | None
    ) -> tuple[dict[str, Seed], dict[str, Cursor]]:
        """Per topic, its last row keyed before `start_ns` and where to read the rest from
        (none when the ticks start where the data does); and the cursors already open.

        A topic keyed on record time is read from `SEED_LOOKBACK_NS` before the start in
        the one stream that goes on to the data, its seed taken from the rows before the
        start: one request instead of two for each topic of a run. Only when that stretch
        holds no row is the seed looked for further back (`seek.last_before`).
        """
        if start_ns is None or (floor is not None and start_ns <= floor):
            return {}, {}
        seeds: dict[str, Seed] = {}
        cursors: dict[str, Cursor] = {}
        for t in self._topics:
            source, key = self.reads[t], self.time_keys[t]
            if not key.is_record:
                seeds[t] = seed(source, start_ns, floor, key)
                continue
            back = start_ns - SEED_LOOKBACK_NS
            back = back if floor is None else max(back, floor)
            cursor = cursors[t] = Cursor(source, back, data_end, key)
            cursor.fill(start_ns)
            before, _ = cursor.take(start_ns)
            last = next((b for b in reversed(before) if len(b)), None)
            row = last.slice(len(last) - 1, 1) if last is not None else None
            if row is None and (floor is None or back > floor):
                row = last_before(source, back, floor)
            seeds[t] = (row, None)
        return seeds, cursors

    def _records_from(
        self, seeds: Mapping[str, Seed], read_from: int | None
    ) -> dict[str, int | None]:
        """Per topic, the record time to read from when it is not the run's start: the
        seed's, or where the rows keyed from `read_from` on begin (a key other than record
        time can follow its record)."""
        out: dict[str, int | None] = {}
        for t in self._topics:
            key = self.time_keys[t]
            if t in seeds:
                out[t] = seeds[t][1]
            elif read_from is not None and not key.is_record:
                out[t] = records_from(self.reads[t], read_from, key)
            else:
                out[t] = None
        return out

    def _seed_keys(self, seeds: Mapping[str, Seed]) -> dict[str, int]:
        return {t: self._key(t, row) for t, (row, _) in seeds.items() if row is not None}

    def _key(self, topic: str, row: pa.RecordBatch) -> int:
        return int(self.time_keys[topic].keys(row)[0][0])

    def _aligner(self, p: Plan, seed_row: pa.RecordBatch | None) -> _Aligner:
        aligner = _Aligner(p, self.reads[p.stream.topic], self.fixed_lists)
        if seed_row is not None:
            aligner.seed(seed_row, self._key(p.stream.topic, seed_row))
        return aligner


@attrs.define
class _Run:
    """One run of the engine: the topics' cursors, the streams' aligners, the grid."""

    schema: pa.Schema
    cursors: dict[str, Cursor]
    aligners: list[_Aligner]
    ticks: Ticks
    end_ns: int | None
    chunk_ns: int | None

    def tables(self, w0: int) -> Iterator[pa.Table]:
        """The tables of the windows from `w0` on (windows without ticks yield none)."""
        while True:
            w1 = _FOREVER if self.chunk_ns is None else w0 + self.chunk_ns
            w1 = w1 if self.end_ns is None else min(w1, self.end_ns)
            table, finished = self._window(w0, w1)
            if table is not None:
                yield table
            if self._over(w1, finished):
                return
            w0 = w1

    def _window(self, w0: int, w1: int) -> tuple[pa.Table | None, bool]:
        """The table of the window `[w0, w1)` (None: no tick), and whether the data is done."""
        taken: dict[str, Taken] = {}
        for t, c in self.cursors.items():
            c.fill(w1)
            taken[t] = c.take(w1)
        finished = all(c.done for c in self.cursors.values())
        hi = w1
        if self.end_ns is None and finished:
            hi = _data_end(self.cursors.values(), w0, w1)
        grid, prev = self.ticks.window(w0, hi, {t: keys for t, (_, keys) in taken.items()})
        columns: list[pa.ChunkedArray | pa.Array] = [pa.array(grid, pa.int64())]
        for a in self.aligners:
            # Every window moves each stream's carry on, even one without ticks.
            columns += a.columns(taken[a.topic], self.cursors[a.topic], grid, prev)
        table = pa.Table.from_arrays(columns, schema=self.schema) if grid.size else None
        return table, finished

    def _over(self, w1: int, finished: bool) -> bool:
        """Whether the run ends after the window ending at `w1`."""
        if self.end_ns is not None and w1 >= self.end_ns:
            return True
        # Past the data, a rate grid still owes null ticks up to an explicit end.
        return finished and (self.end_ns is None or not self.ticks.fills_to_end)


def _first_window(ticks: Ticks, cursors: Iterable[Cursor]) -> int | None:
    """Where a run without a start begins: the grid's origin, else the first sample."""
    firsts = [k for k in (c.first_key() for c in cursors) if k is not None]
    if not firsts:
        return None
    return ticks.origin if ticks.origin is not None else min(firsts)


def _data_end(cursors: Iterable[Cursor], w0: int, w1: int) -> int:
    """The end of the last window once every topic is read: just past the last sample."""
    seen = [c.last_key for c in cursors if c.last_key is not None]
    return min(w1, max(seen) + 1) if seen else w0


def synchronize(
    sources: Mapping[str, TopicSource],
    streams: Sequence[Stream | str],
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    **options: Unpack[SyncOptions],
) -> pa.Table:
    """One synchronised table over `[start_ns, end_ns)` (typed and empty if no tick).

    Keywords as `Synchronizer` (`SyncOptions`): `rate_hz` or `reference`, `timestamp`,
    `fixed_lists`.

    Raises:
        MLInputError: as `Synchronizer` and `Synchronizer.run`.

    >>> table = synchronize(
    ...     sources, ["/imu", Stream("/gps", AsOf(50_000_000), fields="position")], rate_hz=50.0
    ... )
    >>> table.column_names[:2]
    ['timestamp_ns', '/imu.header.timestamp.seconds']
    """
    return Synchronizer(sources, streams, **options).table(start_ns=start_ns, end_ns=end_ns)


def iter_synchronized(
    sources: Mapping[str, TopicSource],
    streams: Sequence[Stream | str],
    *,
    chunk_ns: int,
    start_ns: int | None = None,
    end_ns: int | None = None,
    **options: Unpack[SyncOptions],
) -> Iterator[pa.Table]:
    """Synchronised tables of consecutive `chunk_ns` windows; together equal to `synchronize`.

    Memory stays bounded by one window plus about one batch per topic. Keywords as
    `synchronize`.

    Raises:
        MLInputError: as `synchronize`, or `chunk_ns` <= 0.

    >>> for table in iter_synchronized(sources, ["/imu"], chunk_ns=60 * 10**9, rate_hz=100.0):
    ...     writer.write_table(table)
    """
    sync = Synchronizer(sources, streams, **options)
    yield from sync.run(start_ns=start_ns, end_ns=end_ns, chunk_ns=chunk_ns)
