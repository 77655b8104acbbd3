"""Typed decoding by tag and schema fingerprint (ontology spec §5), with a generic fallback.

A topic decodes into its registered class only when the DoGet schema's fingerprint equals the
class's; otherwise (unknown tag, drifted schema) rows become ``Unmodeled`` objects that carry
the row as a dict. Reading never fails because of a type mismatch: it warns once per stream.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import attrs
import pyarrow as pa

import mosaico.types  # noqa: F401  - registers the standard types
from mosaico.errors import MosaicoWarning
from mosaico.ontology import registry, schema_fingerprint
from mosaico.protocol.topic_type import TIMESTAMP

Decoder = Callable[[pa.RecordBatch], list[Any]]


class UnmodeledTypeWarning(MosaicoWarning):
    """A topic was decoded into ``Unmodeled`` instead of a typed class.

    Warned once per stream; silence it with ``warnings.simplefilter("ignore",
    UnmodeledTypeWarning)`` when reading topics of types this client does not know.
    """


@attrs.define(slots=True, eq=True)
class Unmodeled:
    """A row of a topic whose type this client cannot decode: its tag and its fields.

    ``data`` maps each payload field to its Python value (nested structs as dicts);
    ``fingerprint`` is the stream schema's, to compare with ``cls.FINGERPRINT``.

    >>> Unmodeled("EncoderTicks", {"left": 10, "right": 12}, "3f2a9c01de")
    Unmodeled(tag='EncoderTicks', data={'left': 10, 'right': 12}, fingerprint='3f2a9c01de')
    """

    tag: str
    data: dict[str, Any]
    fingerprint: str = ""


def resolve_type(tag: str, schema: pa.Schema) -> type | None:
    """The registered class for (tag, schema), or None when the fallback applies.

    A class matches only when its ``FINGERPRINT`` equals the schema's (ontology spec §5):
    a type whose fields changed since the data was written falls back too.
    """
    cls = registry.get(tag)
    if cls is not None and schema_fingerprint(schema) == cls.FINGERPRINT:  # type: ignore[attr-defined]
        return cls
    return None


def decoder_for(tag: str, schema: pa.Schema, topic: str, *, projected: bool = False) -> Decoder:
    """A batch -> objects function for one topic stream (warns when it falls back).

    A ``projected`` stream (some fields only) cannot build its type's objects: its rows
    decode to ``Unmodeled`` holding the fields read, without a warning (they were asked for).
    """
    fp = schema_fingerprint(schema)
    if not projected:
        cls = resolve_type(tag, schema)
        if cls is not None:
            return cls.from_batch  # type: ignore[attr-defined,no-any-return]
        reason = "is not registered" if tag not in registry else f"has drifted (fingerprint {fp})"
        warnings.warn(
            f"topic {topic!r}: ontology tag {tag!r} {reason}; rows decode to Unmodeled",
            UnmodeledTypeWarning,
            stacklevel=3,
        )
    names = [n for n in schema.names if n != TIMESTAMP]

    def decode(batch: pa.RecordBatch) -> list[Any]:
        rows = batch.select(names).to_pylist()
        return [Unmodeled(tag, row, fp) for row in rows]

    return decode
