"""Which schema an upload is stored and served back with (spec §6.2, §7.8).

Arrow has encodings that Parquet cannot keep or that the read path cannot serve: dictionary
columns, the view layouts (``string_view``, ``binary_view``, ``list_view``,
``large_list_view``) and run-end encoding. They carry values Parquet can store, so an upload
using them is **normalised**: each such type, wherever it is nested, is replaced by the
plain type of its values, and every incoming batch is converted to it
(``upload_batches``). The normalised schema is the one the catalog stores, ``GetSchema``
returns and every ``DoGet`` streams; it differs from the uploaded one only in those
encodings (names, order, nullability and field metadata are kept):

=========================================  ===================================
uploaded                                   stored and served back
=========================================  ===================================
``dictionary<values=T, indices=I>``        ``T`` (normalised)
``string_view`` / ``binary_view``          ``string`` / ``binary``
``list_view<T>`` / ``large_list_view<T>``  ``list<T>`` / ``large_list<T>``
``run_end_encoded<R, T>``                  ``T`` (normalised)
=========================================  ===================================

Types that cannot be stored or read back are **refused** before the upload claims the topic
(nothing is stored, the topic can still be uploaded): unions, intervals, structs without
fields, fixed-size lists of size 0, dictionaries and run-end encodings of nested values,
extension types over one of the encodings above, and anything else a Parquet probe of the
schema rejects (such as nesting too deep to be read back). The refusal names the column
(dotted struct path, ``[]`` for list items) and its type.
"""

from __future__ import annotations

import functools

import pyarrow as pa
import pyarrow.types as pat

from mosaico.protocol.errors import InvalidArgument
from mosaico.server.storage import WriteOptions

_PLAIN = {
    pa.string_view(): pa.string(),
    pa.binary_view(): pa.binary(),
}


class _Refused(Exception):
    """A type the store refuses: ``path`` names where it is, ``why`` the reason."""

    def __init__(self, path: str, dtype: pa.DataType, why: str) -> None:
        super().__init__(f"column {clip(path)!r} has type {clip(str(dtype))}: {why}")


def clip(text: str, limit: int = 160) -> str:
    """``text`` cut to ``limit`` characters (names and types quoted in error messages)."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def first_line(exc: BaseException) -> str:
    """An exception's first line, clipped: pyarrow's messages go on with context and
    tracebacks that a client must not see."""
    lines = str(exc).strip().splitlines()
    return clip(lines[0] if lines else type(exc).__name__)


def _flat(dtype: pa.DataType) -> bool:
    """Not a container of other types (what a dictionary or run-end encoding may hold)."""
    return not pat.is_nested(dtype) and not isinstance(dtype, pa.BaseExtensionType)


def _encoded_values(dtype: pa.DataType, path: str) -> pa.DataType:
    """The stored type of a dictionary's or run-end encoding's values."""
    values = _stored_type(dtype.value_type, path)
    if not _flat(values):
        raise _Refused(path, dtype, "only encodings of flat values are supported; send the values")
    return values


def _stored_field(field: pa.Field, path: str) -> pa.Field:
    return field.with_type(_stored_type(field.type, path))


def _stored_list(dtype: pa.DataType, path: str) -> pa.DataType:
    item = _stored_field(dtype.value_field, f"{path}[]")
    if pat.is_fixed_size_list(dtype):
        if dtype.list_size == 0:
            raise _Refused(path, dtype, "a fixed-size list of size 0 cannot be read back")
        return dtype if item == dtype.value_field else pa.list_(item, dtype.list_size)
    if pat.is_list_view(dtype):
        return pa.list_(item)
    if pat.is_large_list_view(dtype):
        return pa.large_list(item)
    if item == dtype.value_field:
        return dtype
    return pa.large_list(item) if pat.is_large_list(dtype) else pa.list_(item)


def _stored_container(dtype: pa.DataType, path: str) -> pa.DataType:
    """The stored type of a struct, map or list type: the type itself unless a child type
    changes (so that names the rebuilt type would not keep, such as a map's entries field,
    stay as uploaded)."""
    if pat.is_struct(dtype):
        if dtype.num_fields == 0:
            raise _Refused(path, dtype, "a struct without fields cannot be stored")
        _unique_names(list(dtype), path)
        fields = [_stored_field(f, f"{path}.{f.name}") for f in dtype]
        return dtype if fields == list(dtype) else pa.struct(fields)
    if pat.is_map(dtype):
        key = _stored_field(dtype.key_field, f"{path}{{key}}")
        item = _stored_field(dtype.item_field, f"{path}{{value}}")
        if (key, item) == (dtype.key_field, dtype.item_field):
            return dtype
        return pa.map_(key, item, keys_sorted=dtype.keys_sorted)
    return _stored_list(dtype, path)


MAX_LEAVES = 10_000
"""Most leaf columns an upload schema may have (the Parquet probe's cost grows with them)."""


def _leaf_count(schema: pa.Schema | pa.DataType) -> int:
    """Leaf columns under a stored schema or type (one Parquet column chunk each)."""
    if isinstance(schema, pa.Schema) or pat.is_struct(schema):
        return sum(_leaf_count(field.type) for field in schema)
    if pat.is_map(schema):
        return _leaf_count(schema.key_type) + _leaf_count(schema.item_type)
    if isinstance(schema, pa.BaseExtensionType):
        return _leaf_count(schema.storage_type)
    if pat.is_nested(schema):  # the list kinds
        return _leaf_count(schema.value_type)
    return 1


def _unique_names(fields: list[pa.Field], path: str) -> None:
    """Refuse two fields of one name side by side: no column path could tell them apart."""
    seen: set[str] = set()
    for field in fields:
        if field.name in seen:
            where = f"{path}.{field.name}" if path else field.name
            raise InvalidArgument(f"upload schema has two columns named {clip(where)!r}")
        seen.add(field.name)


def _stored_type(dtype: pa.DataType, path: str) -> pa.DataType:
    """``dtype`` with every encoding replaced by its plain values; raises ``_Refused``."""
    if pat.is_union(dtype):
        raise _Refused(path, dtype, "unions cannot be stored")
    if pat.is_interval(dtype):
        raise _Refused(path, dtype, "intervals cannot be stored")
    if pat.is_dictionary(dtype) or pat.is_run_end_encoded(dtype):
        return _encoded_values(dtype, path)
    if isinstance(dtype, pa.BaseExtensionType):
        if _stored_type(dtype.storage_type, path) != dtype.storage_type:
            raise _Refused(path, dtype, "its storage type must not be an encoded or view type")
        return dtype
    if pat.is_nested(dtype):
        return _stored_container(dtype, path)
    return _PLAIN.get(dtype, dtype)


def _probe(schema: pa.Schema, serialization_format: str, compression: str) -> WriteOptions:
    """The Parquet options of a normalised schema; raises ``_Refused`` naming a column a
    Parquet probe rejects, found by halving (a wide schema costs about two probes)."""
    try:
        return WriteOptions.for_schema(schema, serialization_format, compression)
    except Exception:  # noqa: BLE001 - any failure of the probe is a refusal, found below
        pass
    fields = list(schema)
    while len(fields) > 1:
        half = len(fields) // 2
        left_fails = _refusal(fields[:half], serialization_format, compression) is not None
        fields = fields[:half] if left_fails else fields[half:]
    refusal = _refusal(fields, serialization_format, compression)
    if refusal is None:
        raise InvalidArgument("upload schema cannot be stored: Parquet refuses its columns together")
    raise _Refused(fields[0].name, fields[0].type, f"Parquet refuses it: {first_line(refusal)}")


def _refusal(
    fields: list[pa.Field], serialization_format: str, compression: str
) -> Exception | None:
    """Why a Parquet probe of these columns fails, or None."""
    try:
        WriteOptions.for_schema(pa.schema(fields), serialization_format, compression)
    except Exception as exc:  # noqa: BLE001 - any failure of the probe is a refusal
        return exc
    return None


@functools.lru_cache(maxsize=256)
def needs_conversion(dtype: pa.DataType) -> bool:
    """Whether values of ``dtype`` change when normalised (an encoding anywhere in it)."""
    return _stored_type(dtype, "") != dtype


def stored_schema(
    received: pa.Schema, serialization_format: str, compression: str
) -> tuple[pa.Schema, WriteOptions]:
    """The schema an upload of ``received`` is stored and served back with (see the module
    docstring), and its Parquet options.

    Raises:
        InvalidArgument: a column has a type the store refuses; the message names the
            column and its type.
    """
    _unique_names(list(received), "")
    try:
        fields = [_stored_field(f, f.name) for f in received]
        schema = pa.schema(fields, metadata=received.metadata)
        if (leaves := _leaf_count(schema)) > MAX_LEAVES:
            raise InvalidArgument(
                f"upload schema has {leaves} leaf columns, more than {MAX_LEAVES}"
            )
        return schema, _probe(schema, serialization_format, compression)
    except _Refused as exc:
        raise InvalidArgument(f"upload schema cannot be stored: {exc}") from None
