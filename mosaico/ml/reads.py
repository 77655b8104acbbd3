"""What each topic of a synchronisation reads: only the fields it uses.

A stream reads the fields its plan keeps plus its time key's field (header or field time);
a reference topic that is not also a stream reads its time key alone, which with record
time is the timestamps only (``fields=[]``). A topic whose plan keeps every field is read
whole. The server reads and sends only those Parquet columns (``TopicSource.batches``'s
``fields``); a source whose ``batches`` takes no ``fields`` is read whole and projected in
memory, with the same result.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Mapping, Sequence

import pyarrow as pa

from mosaico.ml.flatten import FixedLists
from mosaico.ml.plan import Plan
from mosaico.ml.source import TopicSource, project_schema
from mosaico.ml.timekey import TimeKey
from mosaico.protocol.projection import project_table
from mosaico.protocol.topic_type import TIMESTAMP


def _leaves(
    fields: pa.Schema | pa.StructType, prefix: str, fixed_lists: FixedLists
) -> Iterator[tuple[str, list[str]]]:
    """Each leaf's dotted path (through structs) and the flat columns it becomes."""
    for f in fields:
        path = f"{prefix}{f.name}"
        if pa.types.is_struct(f.type):
            yield from _leaves(f.type, f"{path}.", fixed_lists)
        elif fixed_lists == "columns" and pa.types.is_fixed_size_list(f.type):
            yield path, [f"{path}_{i}" for i in range(f.type.list_size)]
        else:
            yield path, [path]


def read_fields(
    schema: pa.Schema, columns: Iterable[str], key: TimeKey, fixed_lists: FixedLists
) -> tuple[str, ...] | None:
    """The fields a topic of ``schema`` reads to give the flat ``columns`` and its ``key``:
    the leaves behind them, then the key's field; None when that is every field."""
    wanted = set(columns)
    payload = [leaf for leaf in _leaves(schema, "", fixed_lists) if leaf[0] != TIMESTAMP]
    chosen = [path for path, flat in payload if wanted.intersection(flat)]
    if not key.is_record:
        chosen.append(key.label)
    if set(chosen) >= {path for path, _ in payload}:
        return None
    return tuple(dict.fromkeys(chosen))


def projected_sources(
    sources: Mapping[str, TopicSource], plans: Sequence[Plan], topics: Iterable[str],
    keys: Mapping[str, TimeKey], fixed_lists: FixedLists,
) -> dict[str, TopicSource]:  # fmt: skip
    """The ``topics`` as a synchronisation reads them: each projected to what ``plans``
    (by topic) and its time key use, or the source itself when that is every field."""
    by_topic = {p.stream.topic: p.columns for p in plans}
    out: dict[str, TopicSource] = {}
    for topic in topics:
        source = sources[topic]
        fields = read_fields(source.schema, by_topic.get(topic, ()), keys[topic], fixed_lists)
        out[topic] = source if fields is None else ProjectedSource(source, fields)
    return out


def _takes_fields(source: TopicSource) -> bool:
    try:
        parameters = inspect.signature(source.batches).parameters
    except (TypeError, ValueError):  # no signature to read: assume the protocol's
        return True
    return "fields" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


class ProjectedSource:
    """A `TopicSource` reading some fields of another: ``fields`` are dotted paths of the
    source's schema, ``schema`` the projected one (``mosaico.protocol.projection``).

    Raises:
        MLInputError: a field the source lacks.
    """

    def __init__(self, source: TopicSource, fields: Sequence[str]) -> None:
        self.schema: pa.Schema = project_schema(source, fields)
        self.fields = tuple(fields)
        self.name: str = source.name
        self.tag: str = source.tag
        self._source = source
        self._native = _takes_fields(source)

    def bounds(self) -> tuple[int, int] | None:
        """The source's bounds (no data read)."""
        return self._source.bounds()

    def batches(
        self, start_ns: int | None, end_ns: int | None, fields: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The source's batches in ``[start_ns, end_ns)``, projected to ``fields`` (paths
        within this projection), by default to this source's."""
        fields = self.fields if fields is None else tuple(fields)
        if self._native:
            yield from self._source.batches(start_ns, end_ns, fields=fields)
            return
        schema = self.schema if fields == self.fields else project_schema(self, fields)
        for batch in self._source.batches(start_ns, end_ns):
            yield from project_table(pa.Table.from_batches([batch]), schema).to_batches()
