"""Ontology entries compiled to vectorised row predicates over Arrow record batches.

Everything runs in ``pyarrow.compute`` kernels plus a few numpy index operations per list
selector: no Python loop per row. Null semantics of spec §8.5: a null value, a null struct
on the path or an out-of-range index makes the comparison false; ``[?]`` and ``[!]`` over a
null or empty list are false. The entries of one tag are combined on the same row (AND).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mosaico.protocol.glob import arrow_glob
from mosaico.protocol.query import OntologyEntry, Step
from mosaico.server.query.plan import operand_scalars, read_column, resolve

Compare = Callable[[pa.Array], pa.Array]

_COMPARE_KERNELS: dict[str, Callable[[pa.Array, pa.Scalar], pa.Array]] = {
    "$eq": pc.equal,
    "$neq": pc.not_equal,
    "$lt": pc.less,
    "$leq": pc.less_equal,
    "$gt": pc.greater,
    "$geq": pc.greater_equal,
}


def _comparable(values: pa.Array) -> pa.Array:
    # Half floats have no comparison kernels.
    return values.cast(pa.float32()) if pa.types.is_float16(values.type) else values


def _compare(entry: OntologyEntry, leaf: pa.DataType) -> Compare:
    """A kernel from a leaf array to a (nullable) boolean array."""
    op = entry.condition.op
    scalars = operand_scalars(entry, leaf)
    if op in _COMPARE_KERNELS:
        kernel, (operand,) = _COMPARE_KERNELS[op], scalars
        return lambda a: kernel(_comparable(a), operand)
    if op == "$between":
        low, high = scalars
        return lambda a: pc.and_(pc.greater_equal(_comparable(a), low),
                                 pc.less_equal(_comparable(a), high))  # fmt: skip
    if op == "$outside":
        low, high = scalars
        return lambda a: pc.or_(pc.less(_comparable(a), low), pc.greater(_comparable(a), high))
    if op == "$match":
        regex = arrow_glob(entry.condition.operand)
        return lambda a: pc.match_substring_regex(a, regex)
    # $in: sets are short; an OR of equalities avoids casting the set to the column type.
    return lambda a: functools.reduce(pc.or_, [pc.equal(_comparable(a), s) for s in scalars])


def _explode(lists: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Elements of the non-null lists and the row each one belongs to."""
    n = len(lists)
    valid = np.asarray(lists.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_fixed_size_list(lists.type):
        size = lists.type.list_size
        values = lists.values.slice(lists.offset * size, n * size)
        parents = np.repeat(np.arange(n), size)
    else:
        offsets = lists.offsets.to_numpy()
        values = lists.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        parents = np.repeat(np.arange(n), np.diff(offsets))
    keep = valid[parents]  # a null list's slot may still own values: ignore them
    if keep.all():
        return values, parents
    return values.filter(pa.array(keep)), parents[keep]


def _evaluate(values: pa.Array, path: Sequence[Step], compare: Compare) -> np.ndarray:
    """Row mask (no nulls) of ``values`` for the rest of the path."""
    if not path:
        result = pc.fill_null(compare(values), False)
        return np.asarray(result.to_numpy(zero_copy_only=False), dtype=bool)
    step, rest = path[0], path[1:]
    if isinstance(step, str):
        return _evaluate(pc.struct_field(values, step), rest, compare)
    n = len(values)
    elements, parents = _explode(values)
    if step.kind == "index":
        # Position of each element inside its list: index minus its run's first index.
        starts = np.searchsorted(parents, parents, side="left")
        chosen = (np.arange(len(parents)) - starts) == step.index
        gather = np.full(n, -1, dtype=np.int64)
        gather[parents[chosen]] = np.flatnonzero(chosen)
        picked = elements.take(pa.array(gather, mask=gather < 0))
        return _evaluate(picked, rest, compare)
    hits = _evaluate(elements, rest, compare)
    total = np.bincount(parents, minlength=n)
    true = np.bincount(parents, weights=hits, minlength=n)
    if step.kind == "any":
        return np.asarray(true > 0)
    return np.asarray((true == total) & (total > 0))


@attrs.frozen
class RowPredicate:
    """The AND of one tag's entries, bound to one topic schema."""

    columns: tuple[str, ...]  # dotted columns to read (plus timestamp_ns when needed)
    _parts: tuple[tuple[tuple[Step, ...], Compare], ...]

    def __call__(self, batch: pa.RecordBatch) -> np.ndarray:
        """The row mask of ``batch`` (no nulls): True where every entry holds. ``batch``
        must hold the ``columns``; evaluation stops once no row is left."""
        mask = np.ones(batch.num_rows, dtype=bool)
        for path, compare in self._parts:
            head = path[0]
            assert isinstance(head, str)
            mask &= _evaluate(batch.column(head), path[1:], compare)
            if not mask.any():
                break
        return mask


def compile_predicate(schema: pa.Schema, entries: Sequence[OntologyEntry]) -> RowPredicate | None:
    """The predicate of ``entries`` over rows of ``schema``; None when one of the paths does
    not exist in this schema (the topic cannot match, spec §8.5). Raises ``InvalidArgument``
    for an operand that does not fit its leaf."""
    parts = []
    for entry in entries:
        leaf = resolve(schema, entry.path)
        if isinstance(leaf, str):
            return None
        parts.append((entry.path, _compare(entry, leaf)))
    columns = tuple(dict.fromkeys(read_column(e) for e in entries))
    return RowPredicate(columns, tuple(parts))
