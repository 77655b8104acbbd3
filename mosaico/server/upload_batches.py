"""Each uploaded batch converted to the stored schema (``upload_schema``) and checked for
values Parquet would not give back.

Decoding an encoding can multiply a batch's size (a dictionary repeating one large value,
views sharing one buffer): the bytes a conversion would produce are counted from the value
sizes first, and a batch that would grow past the server's decode limit is refused before
anything is allocated. Values are refused where Parquet would change them or fail to write
them: ``date64`` off a whole day (stored as days) and ``time32[s]`` outside a day (invalid
Arrow, found by full validation of every batch that needs work), ``timestamp[s]`` beyond
what Parquet's milliseconds hold. A refused batch is the client's error: the rows of the
batches before it are kept.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from mosaico.protocol.errors import InvalidArgument
from mosaico.server.upload_schema import clip, first_line, needs_conversion

_MAX_SECONDS = (2**63 - 1) // 1000  # timestamp[s] values Parquet's ms can hold


class _Budget:
    """The bytes conversions of one batch may still produce."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, nbytes: int, path: str) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise InvalidArgument(
                f"column {clip(path)!r}: decoding the uploaded batch would exceed "
                f"grpc_max_decode_message_size ({self.limit} bytes); send smaller batches"
            )


def _range_check(arr: pa.Array, path: str) -> None:
    """Refuse ``timestamp[s]`` values that Parquet's milliseconds cannot hold."""
    values = arr.view(pa.int64())
    bad = pc.or_(pc.greater(values, _MAX_SECONDS), pc.less(values, -_MAX_SECONDS))
    if pc.any(bad).as_py():
        raise InvalidArgument(
            f"column {clip(path)!r}: {arr.type} values must lie within ±{_MAX_SECONDS} "
            "to be stored in milliseconds"
        )


@functools.lru_cache(maxsize=256)
def _validated(dtype: pa.DataType) -> bool:
    """Whether values of ``dtype`` can be invalid in ways Parquet would not give back
    (checked by full validation: ``date64`` on whole days, ``time32[s]`` within a day) or
    need ``_range_check`` (``timestamp[s]``)."""
    if pat.is_date64(dtype):
        return True
    return (pat.is_timestamp(dtype) or pat.is_time32(dtype)) and dtype.unit == "s"


@functools.lru_cache(maxsize=256)
def needs_work(dtype: pa.DataType) -> bool:
    """Whether batches of ``dtype`` must go through ``convert`` (else they are stored as
    they come)."""
    if _validated(dtype) or needs_conversion(dtype):
        return True
    if isinstance(dtype, pa.BaseExtensionType) or pat.is_dictionary(dtype):
        return False
    if pat.is_nested(dtype) and not pat.is_run_end_encoded(dtype):
        return any(needs_work(dtype.field(i).type) for i in range(dtype.num_fields))
    return False


# -- the bytes a plain array holds, per element --------------------------------------------


def _offset_sizes(offsets: pa.Array, element_bytes: np.ndarray) -> np.ndarray:
    """Per list entry, the bytes of its elements, from the list's offsets."""
    total = np.concatenate([[0], np.cumsum(element_bytes, dtype=np.int64)])
    bounds = offsets.to_numpy(zero_copy_only=False)
    return total[bounds[1:]] - total[bounds[:-1]]


def element_bytes(arr: pa.Array) -> np.ndarray:
    """Bytes of each element of a plain (normalised) array, nested values included."""
    dtype = arr.type
    if isinstance(dtype, pa.BaseExtensionType):
        return element_bytes(arr.storage)
    if pat.is_struct(dtype):
        sizes = np.zeros(len(arr), dtype=np.int64)
        for child in arr.flatten():
            sizes += element_bytes(child)
        return sizes
    if pat.is_fixed_size_list(dtype):
        size = dtype.list_size
        values = arr.values.slice(arr.offset * size, len(arr) * size)
        return element_bytes(values).reshape(len(arr), size).sum(axis=1)
    if pat.is_list(dtype) or pat.is_large_list(dtype) or pat.is_map(dtype):
        return _offset_sizes(arr.offsets, element_bytes(arr.values)) + 4
    large = pat.is_large_binary(dtype) or pat.is_large_string(dtype)
    if large or pat.is_binary(dtype) or pat.is_string(dtype):
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if large else np.int32)
        return np.diff(offsets[arr.offset : arr.offset + len(arr) + 1]).astype(np.int64) + 4
    width = max(1, dtype.bit_width // 8) if not pat.is_null(dtype) else 0
    return np.full(len(arr), width, dtype=np.int64)


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _mask(arr: pa.Array) -> pa.Array | None:
    return arr.is_null() if arr.null_count else None


def _own_offsets(arr: pa.Array) -> pa.Array:
    """A list array's offsets in a buffer of their own (``from_arrays`` refuses a null mask
    with offsets that are a slice)."""
    return pa.array(arr.offsets.to_numpy(zero_copy_only=False), arr.offsets.type)


# -- conversions, one per kind of type -------------------------------------------------------


def _dictionary(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    values = convert(arr.dictionary, target, path, budget)
    picked = arr.indices.drop_null().to_numpy(zero_copy_only=False)
    budget.spend(int(element_bytes(values)[picked].sum()), path)
    return values.take(arr.indices)


def _run_end(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    values = convert(arr.values, target, path, budget)
    ends = arr.run_ends.to_numpy(zero_copy_only=False).astype(np.int64)
    budget.spend(int((element_bytes(values) * np.diff(ends, prepend=0)).sum()), path)
    whole = pa.RunEndEncodedArray.from_arrays(arr.run_ends, values)
    return pc.run_end_decode(whole.slice(arr.offset, len(arr)))


def _view(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    if len(arr) == 0:
        return arr.cast(target)
    # Each 16-byte view starts with the value's length (Arrow columnar format).
    views = np.frombuffer(arr.buffers()[1], dtype=np.int32).reshape(-1, 4)
    lengths = views[arr.offset : arr.offset + len(arr), 0].astype(np.int64)
    budget.spend(int((lengths * _valid(arr)).sum()), path)
    return arr.cast(target)


def _list_view(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    values = convert(arr.values, target.value_type, f"{path}[]", budget)
    valid = _valid(arr)
    starts = arr.offsets.to_numpy(zero_copy_only=False).astype(np.int64) * valid
    sizes = arr.sizes.to_numpy(zero_copy_only=False).astype(np.int64) * valid
    total = np.concatenate([[0], np.cumsum(element_bytes(values), dtype=np.int64)])
    budget.spend(int((total[starts + sizes] - total[starts]).sum()), path)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    # The element indices of every view, one run after the other.
    runs = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1] - starts, sizes)
    offset_type = pa.int64() if pat.is_large_list(target) else pa.int32()
    factory = pa.LargeListArray if pat.is_large_list(target) else pa.ListArray
    return factory.from_arrays(
        pa.array(offsets, offset_type), values.take(pa.array(runs)), type=target, mask=_mask(arr)
    )


def _struct(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    children = [
        convert(child, field.type, f"{path}.{field.name}", budget)
        for child, field in zip(arr.flatten(), target, strict=True)
    ]
    return pa.StructArray.from_arrays(children, fields=list(target), mask=_mask(arr))


def _list(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    if pat.is_fixed_size_list(target):
        size = target.list_size
        flat = arr.values.slice(arr.offset * size, len(arr) * size)
        values = convert(flat, target.value_type, f"{path}[]", budget)
        return pa.FixedSizeListArray.from_arrays(values, type=target, mask=_mask(arr))
    values = convert(arr.values, target.value_type, f"{path}[]", budget)
    factory = pa.LargeListArray if pat.is_large_list(target) else pa.ListArray
    return factory.from_arrays(_own_offsets(arr), values, type=target, mask=_mask(arr))


def _map(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    keys = convert(arr.keys, target.key_type, f"{path}{{key}}", budget)
    items = convert(arr.items, target.item_type, f"{path}{{value}}", budget)
    return pa.MapArray.from_arrays(_own_offsets(arr), keys, items, type=target, mask=_mask(arr))


_Conversion = Callable[[pa.Array, pa.DataType, str, _Budget], pa.Array]


def _conversion(dtype: pa.DataType) -> _Conversion:
    """The conversion of an array of ``dtype`` (one that ``needs_work``)."""
    if pat.is_dictionary(dtype):
        return _dictionary
    if pat.is_run_end_encoded(dtype):
        return _run_end
    if pat.is_string_view(dtype) or pat.is_binary_view(dtype):
        return _view
    if pat.is_list_view(dtype) or pat.is_large_list_view(dtype):
        return _list_view
    if pat.is_struct(dtype):
        return _struct
    if pat.is_map(dtype):
        return _map
    return _list


def convert(arr: pa.Array, target: pa.DataType, path: str, budget: _Budget) -> pa.Array:
    """``arr`` as an array of its stored type ``target``, values checked.

    Raises:
        InvalidArgument: a value Parquet would not give back, or decoding past the budget.
    """
    if not needs_work(arr.type):
        return arr
    if _validated(arr.type):
        if pat.is_timestamp(arr.type):
            _range_check(arr, path)
        return arr
    return _conversion(arr.type)(arr, target, path, budget)


def stored_batch(batch: pa.RecordBatch, schema: pa.Schema, max_bytes: int) -> pa.RecordBatch:
    """``batch`` (of the uploaded schema) converted to the stored ``schema``, producing at
    most ``max_bytes`` by decoding; the batch itself when it needs no work.

    Raises:
        InvalidArgument: the batch is not valid Arrow data (checked whatever its types), or
            see ``convert``.
    """
    try:  # offsets in range, UTF-8 text...: what a chunk file and every read rely on
        batch.validate(full=True)
    except pa.ArrowException as exc:
        raise InvalidArgument(
            f"uploaded batch is not valid Arrow data: {first_line(exc)}"
        ) from None
    if not any(needs_work(f.type) for f in batch.schema):
        return batch
    budget = _Budget(max_bytes)
    columns = []
    for column, field in zip(batch.columns, schema, strict=True):
        try:
            columns.append(convert(column, field.type, field.name, budget))
        except pa.ArrowException as exc:
            raise InvalidArgument(
                f"column {clip(field.name)!r} cannot be converted to {clip(str(field.type))}: "
                f"{first_line(exc)}"
            ) from None
    return pa.RecordBatch.from_arrays(columns, schema=schema)
