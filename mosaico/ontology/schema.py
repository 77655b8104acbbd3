"""Topic schemas and schema fingerprints (the reference protocol's identity of a layout).

A topic's wire schema is the ``timestamp_ns`` envelope followed by the type's top-level
fields; its fingerprint is the sha1 of the rendered struct, so two clients agree on a type
without exchanging anything but the schema.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from mosaico.protocol.topic_type import TIMESTAMP_FIELD

__all__ = ["TIMESTAMP_FIELD", "fingerprint", "schema_fingerprint", "topic_schema"]


_TOP_LEVEL_CANONICAL = {
    pa.large_string(): pa.string(),
    pa.string_view(): pa.string(),
    pa.large_binary(): pa.binary(),
    pa.binary_view(): pa.binary(),
}


def topic_schema(struct: pa.StructType) -> pa.Schema:
    """Wire schema of a topic: the timestamp envelope, then the type's top-level fields."""
    return pa.schema([TIMESTAMP_FIELD, *struct])


def fingerprint(struct: pa.StructType) -> str:
    """Schema fingerprint of the reference protocol: sha1 of the rendered struct, 10 hex chars."""
    return hashlib.sha1(str(struct).encode("utf-8")).hexdigest()[:10]


def schema_fingerprint(schema: pa.Schema) -> str:
    """Fingerprint of a topic schema: drop timestamp_ns, canonicalise top-level string kinds."""
    fields = [
        f.with_type(_TOP_LEVEL_CANONICAL.get(f.type, f.type)).remove_metadata()
        for f in schema
        if f.name != TIMESTAMP_FIELD.name
    ]
    return fingerprint(pa.struct(fields))
