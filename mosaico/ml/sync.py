"""Align several topics on one grid (a rate, or a reference topic's timestamps).

The engine walks the data in time windows. Per stream it carries the last sample before the
window (what hold, as-of, drop and the left side of interpolation need) and reads one sample
past it (the right side of interpolation), so chunked output equals the one-shot output.
Output: one flat table, `timestamp_ns` (the ticks) then `<topic>.<field path>` columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import attrs
import numpy as np
import pyarrow as pa

from mosaico.ml.align import Bracket, pick, take_rows
from mosaico.ml.cursor import (
    Cursor,
    TimestampSource,
    check_timestamp_source,
    has_header_time,
    keys_of,
)
from mosaico.ml.errors import MLInputError, check_ns
from mosaico.ml.flatten import FixedLists, column_name, flat_schema, flatten_table
from mosaico.ml.policy import Interpolate, Stream
from mosaico.ml.source import TIMESTAMP, TopicSource
from mosaico.ontology import registry

_NEVER = np.iinfo(np.int64).min
_FOREVER = np.iinfo(np.int64).max


def quaternion_paths(tag: str) -> list[str]:
    """Flat prefixes of the quaternion fields of an ontology type ('' for a Quaternion topic)."""
    cls = registry.get(tag)
    if cls is None:
        return []
    if tag == "Quaternion":
        return [""]
    out: list[str] = []

    def walk(c: type, prefix: str) -> None:
        for name, sub in getattr(c, "NESTED", {}).items():
            path = f"{prefix}{name}"
            if getattr(sub, "TAG", None) == "Quaternion":
                out.append(path)
            else:
                walk(sub, f"{path}.")

    walk(cls, "")
    return out


def _under(column: str, name: str) -> bool:
    """Whether a flat column belongs to field `name`: a struct child or a list element."""
    if column.startswith(f"{name}."):
        return True
    rest = column[len(name) + 1 :]
    return column.startswith(f"{name}_") and rest.isdigit()


def _expand(requested: Sequence[str], available: list[str], topic: str) -> list[str]:
    """Resolve field names and struct prefixes to flat columns, keeping schema order."""
    chosen: set[str] = set()
    for name in requested:
        hit = [c for c in available if c == name or _under(c, name)]
        if not hit:
            shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
            raise MLInputError(f"topic {topic!r} has no field {name!r} (fields: {shown})")
        chosen.update(hit)
    return [c for c in available if c in chosen]


@attrs.define
class _Plan:
    """One stream's resolved columns and how each is aligned."""

    stream: Stream
    columns: list[str]
    lerp: list[str]
    slerp: list[list[str]]
    held: list[str]
    out_schema: pa.Schema


def _plan(stream: Stream, source: TopicSource, fixed_lists: FixedLists) -> _Plan:
    schema = flat_schema(source.schema, fixed_lists=fixed_lists)
    available = [f.name for f in schema if f.name != TIMESTAMP]
    columns = (
        available if stream.fields is None else _expand(stream.fields, available, stream.topic)
    )
    types = {f.name: f.type for f in schema}
    lerp: list[str] = []
    slerp: list[list[str]] = []
    if isinstance(stream.policy, Interpolate):
        quats = []
        for p in quaternion_paths(source.tag):
            group = [column_name(p or None, c) for c in "xyzw"]
            if all(g in columns for g in group):
                quats.append(group)
        in_quat = {c for g in quats for c in g}
        wanted = (
            columns
            if stream.policy.fields is None
            else _expand(stream.policy.fields, columns, stream.topic)
        )
        for c in wanted:
            if c in in_quat:
                continue
            if pa.types.is_floating(types[c]):
                lerp.append(c)
            elif stream.policy.fields is not None:
                raise MLInputError(
                    f"topic {stream.topic!r}: cannot interpolate field {c!r} of type {types[c]}"
                )
        slerp = [g for g in quats if any(c in wanted for c in g)]
    done = set(lerp) | {c for g in slerp for c in g}
    held = [c for c in columns if c not in done]
    out_schema = pa.schema(
        [pa.field(column_name(stream.topic, c), types[c], nullable=True) for c in columns]
    )
    return _Plan(stream, columns, lerp, slerp, held, out_schema)


def _last_before(source: TopicSource, t: int, floor: int | None) -> pa.RecordBatch | None:
    """The last record with floor <= timestamp_ns < t, read backwards in growing steps."""
    bounds = source.bounds()
    if bounds is None or bounds[0] >= t:
        return None
    first = bounds[0] if floor is None else max(bounds[0], floor)
    lookback = 1_000_000_000
    while True:
        lo = max(t - lookback, first)
        last = None
        for b in source.batches(lo, t):
            if len(b):
                last = b
        if last is not None:
            return last.slice(len(last) - 1, 1)
        if lo <= first:
            return None
        lookback *= 4


def _probe_header(
    source: TopicSource, r: int, t: int
) -> tuple[int | None, tuple[pa.RecordBatch, int] | None]:
    """Reads the first batch at record time >= r that has header times. Returns the record
    time of its last row if all its rows are keyed before t (else None), and the last row
    keyed before t with its record time if the batch holds the crossing."""
    for b in source.batches(r, None):
        keys, valid = keys_of(b, "header")
        if not keys.size:
            continue
        if valid is not None:
            b = b.filter(pa.array(valid))
        n = int(np.searchsorted(keys, t, "left"))
        records = b.column(TIMESTAMP)
        if n == len(keys):
            return int(records[n - 1].as_py()), None
        if n:
            return None, (b.slice(n - 1, 1), int(records[n - 1].as_py()))
        return None, None
    return None, None


def last_before_header(source: TopicSource, t: int) -> tuple[pa.RecordBatch, int] | None:
    """The last record whose header time is < t, and its record time.

    Header times are non-decreasing in record order, so the records keyed before t form a
    prefix: a search over record time finds its end, reading one batch per probe. It
    gallops from record time t (header and record time are usually close), then bisects.
    """
    bounds = source.bounds()
    if bounds is None:
        return None
    before, found = _probe_header(source, bounds[0], t)
    if found is not None or before is None:
        return found
    # Invariant: the first keyed record at >= lo is keyed before t; none at >= hi is.
    lo, hi = before, bounds[1] + 1
    # From the last record when t is past them all (the last key is then one probe away).
    r, step, gallop = min(t, bounds[1]), 1_000_000, 0
    while hi - lo > 1:
        if not lo < r < hi:
            r = (lo + hi) // 2
        before, found = _probe_header(source, r, t)
        if found is not None:
            return found
        direction = 1 if before is not None else -1
        if before is not None:
            lo = before
        else:
            hi = r
        # Keep galloping while the probes move one way; bisect once they turned.
        if gallop in (0, direction):
            gallop, r, step = direction, r + direction * step, step * 2
        else:
            r = (lo + hi) // 2
    # Record time lo holds the prefix's last record (records sharing it may pass t).
    last = None
    for b in source.batches(lo, lo + 1):
        keys, valid = keys_of(b, "header")
        if valid is not None:
            b = b.filter(pa.array(valid))
        n = int(np.searchsorted(keys, t, "left"))
        if n:
            last = b.slice(n - 1, 1)
    assert last is not None
    return last, lo


class Synchronizer:
    """A validated synchronisation plan over a set of topic sources."""

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
        if (rate_hz is None) == (reference is None):
            raise MLInputError("give exactly one grid: rate_hz or reference")
        if rate_hz is not None and not (
            isinstance(rate_hz, int | float) and math.isfinite(rate_hz) and 0 < rate_hz <= 1e9
        ):
            raise MLInputError(f"rate_hz must be a number in (0, 1e9], got {rate_hz!r}")
        specs = [Stream(s) if isinstance(s, str) else s for s in streams]
        if not specs:
            raise MLInputError("no stream to synchronise")
        seen: set[str] = set()
        for s in specs:
            if s.topic in seen:
                raise MLInputError(f"topic {s.topic!r} given twice")
            seen.add(s.topic)
        for topic in [s.topic for s in specs] + ([reference] if reference else []):
            if topic not in sources:
                known = ", ".join(sorted(sources)) or "none"
                raise MLInputError(f"unknown topic {topic!r} (topics: {known})")
            if timestamp == "header" and not has_header_time(sources[topic].schema):
                raise MLInputError(f"topic {topic!r} has no header.timestamp to sync on")
        self.sources = sources
        self.rate_hz = rate_hz
        self.reference = reference
        self.timestamp: TimestampSource = timestamp
        self.fixed_lists: FixedLists = fixed_lists
        self.plans = [_plan(s, sources[s.topic], fixed_lists) for s in specs]
        fields = [pa.field(TIMESTAMP, pa.int64(), nullable=False)]
        for p in self.plans:
            fields += list(p.out_schema)
        self.schema = pa.schema(fields)

    # --- grid --------------------------------------------------------------------------------

    def tick(self, origin: int, k: np.ndarray) -> np.ndarray:
        """Times of rate-grid ticks number `k` (rounded per tick, so no drift)."""
        assert self.rate_hz is not None
        return origin + np.rint(k * (1e9 / self.rate_hz)).astype(np.int64)

    def _rate_ticks(self, origin: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.rate_hz is not None
        per_ns = self.rate_hz / 1e9
        k_lo = max(0, math.floor((lo - origin) * per_ns) - 1)
        k_hi = max(k_lo, math.ceil((hi - origin) * per_ns) + 1)
        prev = self.tick(origin, np.arange(k_lo - 1, k_hi, dtype=np.int64))
        ticks = prev[1:]
        keep = (ticks >= lo) & (ticks < hi)
        return ticks[keep], prev[:-1][keep]

    def origin(self, start_ns: int | None) -> int | None:
        """First tick of a rate grid: `start_ns`, else the earliest first sample."""
        if start_ns is not None:
            return start_ns
        firsts = []
        for p in self.plans:
            source = self.sources[p.stream.topic]
            if self.timestamp == "record":
                # The catalogue knows the first record time: no need to open a stream.
                bounds = source.bounds()
                k = None if bounds is None else bounds[0]
            else:
                k = Cursor(source, None, None, self.timestamp).first_key()
            if k is not None:
                firsts.append(k)
        return min(firsts) if firsts else None

    # --- engine ------------------------------------------------------------------------------

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
        pieces of one result.
        """
        check_ns(start_ns=start_ns, end_ns=end_ns, chunk_ns=chunk_ns, origin_ns=origin_ns)
        if chunk_ns is not None and chunk_ns <= 0:
            raise MLInputError(f"chunk_ns must be > 0, got {chunk_ns}")
        if start_ns is not None and end_ns is not None and end_ns <= start_ns:
            return
        data_start, data_end = (start_ns, end_ns) if data_ns is None else data_ns
        seeded = start_ns is not None and (data_start is None or start_ns > data_start)
        read_from = start_ns if start_ns is not None else data_start
        topics = [p.stream.topic for p in self.plans]
        if self.reference is not None and self.reference not in topics:
            topics.append(self.reference)
        seeds: dict[str, pa.RecordBatch | None] = dict.fromkeys(topics)
        records_from: dict[str, int | None] = dict.fromkeys(topics)
        if seeded:
            assert start_ns is not None
            for t in topics:
                seeds[t], records_from[t] = self._seed(self.sources[t], start_ns, data_start)
        cursors = {
            t: Cursor(
                self.sources[t], read_from, data_end, self.timestamp, records_from=records_from[t]
            )
            for t in topics
        }
        carry: dict[str, tuple[pa.Table, int] | None] = {}
        for p in self.plans:
            row = seeds[p.stream.topic]
            carry[p.stream.topic] = None if row is None else self._flat_row(p, row)
        prev_ref = _NEVER
        if self.reference is not None and (row := seeds[self.reference]) is not None:
            prev_ref = self._key(row)

        origin = origin_ns
        if self.rate_hz is not None and origin is None:
            origin = self.origin(start_ns if start_ns is not None else data_start)
            if origin is None:
                return
        w0 = start_ns
        if w0 is None:
            firsts = [k for k in (c.first_key() for c in cursors.values()) if k is not None]
            if not firsts:
                return
            w0 = origin if origin is not None else min(firsts)

        while True:
            w1 = _FOREVER if chunk_ns is None else w0 + chunk_ns
            if end_ns is not None:
                w1 = min(w1, end_ns)
            taken: dict[str, tuple[list[pa.RecordBatch], np.ndarray]] = {}
            for t, c in cursors.items():
                c.fill(w1)
                taken[t] = c.take(w1)
            finished = all(c.done for c in cursors.values())
            last = end_ns is not None and w1 >= end_ns
            if self.reference is not None:
                ticks = taken[self.reference][1]
                prev_ticks = np.concatenate([[prev_ref], ticks[:-1]]).astype(np.int64)
                if ticks.size:
                    prev_ref = int(ticks[-1])
            else:
                assert origin is not None
                hi = w1
                if end_ns is None and finished:
                    seen = [c.last_key for c in cursors.values() if c.last_key is not None]
                    hi = min(hi, max(seen) + 1) if seen else w0
                ticks, prev_ticks = self._rate_ticks(origin, w0, hi)
            columns: list[pa.ChunkedArray | pa.Array] = [pa.array(ticks, pa.int64())]
            for p in self.plans:
                columns += self._align(
                    p, taken[p.stream.topic], cursors[p.stream.topic], carry, ticks, prev_ticks
                )
            if ticks.size:
                yield pa.Table.from_arrays(columns, schema=self.schema)
            # Past the data, a rate grid still owes null ticks up to an explicit end.
            if last or (finished and (end_ns is None or self.reference is not None)):
                return
            w0 = w1

    def _seed(
        self, source: TopicSource, start_ns: int, floor: int | None
    ) -> tuple[pa.RecordBatch | None, int | None]:
        """The last row keyed before `start_ns`, and (header time) the record time to read
        the rest from: the seed's own, as records sharing it may be keyed after the start."""
        if self.timestamp == "record":
            return _last_before(source, start_ns, floor), None
        found = last_before_header(source, start_ns)
        if found is None:
            bounds = source.bounds()
            return None, None if bounds is None else bounds[0]
        return found

    def _key(self, row: pa.RecordBatch) -> int:
        return int(keys_of(row, self.timestamp)[0][0])

    def _flat_row(self, p: _Plan, row: pa.RecordBatch) -> tuple[pa.Table, int]:
        flat = flatten_table(row, fixed_lists=self.fixed_lists).select(p.columns)
        return flat, self._key(row)

    def _align(
        self,
        p: _Plan,
        taken: tuple[list[pa.RecordBatch], np.ndarray],
        cursor: Cursor,
        carry: dict[str, tuple[pa.Table, int] | None],
        ticks: np.ndarray,
        prev_ticks: np.ndarray,
    ) -> list[pa.ChunkedArray | pa.Array]:
        topic = p.stream.topic
        batches, keys = taken
        source_schema = self.sources[topic].schema
        window = flatten_table(
            pa.Table.from_batches(batches) if batches else source_schema.empty_table(),
            fixed_lists=self.fixed_lists,
        ).select(p.columns)
        parts = [window]
        key_parts = [keys]
        held = carry[topic]
        if held is not None:
            parts.insert(0, held[0])
            key_parts.insert(0, np.array([held[1]], np.int64))
        # This window's rows (with the carried one) become the next window's carry.
        rows = pa.concat_tables(parts)
        row_keys = np.concatenate(key_parts)
        if row_keys.size:
            carry[topic] = (rows.slice(rows.num_rows - 1, 1), int(row_keys[-1]))
        if isinstance(p.stream.policy, Interpolate):
            ahead = cursor.peek()
            if ahead is not None:
                flat_ahead = flatten_table(ahead[0], fixed_lists=self.fixed_lists).select(p.columns)
                rows = pa.concat_tables([rows, flat_ahead])
                row_keys = np.concatenate([row_keys, [ahead[1]]])
            br = Bracket(row_keys, ticks)
            out = {
                c: a
                for c, a in zip(p.held, take_rows(rows.select(p.held), br.left, br.valid).columns)
            }
            for c in p.lerp:
                out[c] = br.lerp(rows.column(c))
            for group in p.slerp:
                arrays = br.slerp([rows.column(c) for c in group])
                out.update(zip(group, arrays))
            return [out[c] for c in p.columns]
        idx, valid = pick(row_keys, ticks, prev_ticks, p.stream.policy)
        return list(take_rows(rows, idx, valid).columns)


def synchronize(
    sources: Mapping[str, TopicSource],
    streams: Sequence[Stream | str],
    *,
    rate_hz: float | None = None,
    reference: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    timestamp: TimestampSource = "record",
    fixed_lists: FixedLists = "columns",
) -> pa.Table:
    """One synchronised table over `[start_ns, end_ns)` (typed and empty if no tick)."""
    sync = Synchronizer(
        sources,
        streams,
        rate_hz=rate_hz,
        reference=reference,
        timestamp=timestamp,
        fixed_lists=fixed_lists,
    )
    tables = list(sync.run(start_ns=start_ns, end_ns=end_ns))
    return tables[0] if tables else sync.schema.empty_table()


def iter_synchronized(
    sources: Mapping[str, TopicSource],
    streams: Sequence[Stream | str],
    *,
    chunk_ns: int,
    rate_hz: float | None = None,
    reference: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    timestamp: TimestampSource = "record",
    fixed_lists: FixedLists = "columns",
) -> Iterator[pa.Table]:
    """Synchronised tables of consecutive `chunk_ns` windows; together equal to `synchronize`."""
    sync = Synchronizer(
        sources,
        streams,
        rate_hz=rate_hz,
        reference=reference,
        timestamp=timestamp,
        fixed_lists=fixed_lists,
    )
    yield from sync.run(start_ns=start_ns, end_ns=end_ns, chunk_ns=chunk_ns)
