"""Run-time support every generated class uses: value kinds, validation switch and errors,
the tag registry, topic schemas and fingerprints.

Generated modules import ``mosaico.ontology`` (never the generator), so a generated package
needs only mosaico at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import types
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import numpy as np
import pyarrow as pa

from mosaico.errors import InputError

# Python kinds accepted for each scalar family (numpy scalars included: users push them).
BOOL_KINDS: tuple[type, ...] = (bool, np.bool_)
INT_KINDS: tuple[type, ...] = (int, np.integer)
FLOAT_KINDS: tuple[type, ...] = (float, int, np.floating, np.integer)
STR_KINDS: tuple[type, ...] = (str,)
BYTES_KINDS: tuple[type, ...] = (bytes, bytearray, memoryview)
LIST_KINDS: tuple[type, ...] = (list, tuple, np.ndarray)

TIMESTAMP_FIELD = pa.field("timestamp_ns", pa.int64(), nullable=False)

# Read by every generated __attrs_post_init__; a plain module global is the cheapest check.
VALIDATE = True


class ValidationError(InputError):
    """A value does not fit its type: names the type, the field and the offending value."""

    def __init__(self, type_name: str, field: str, value: Any, reason: str) -> None:
        self.type_name = type_name
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"{type_name}.{field}: {reason} (got {shown})")


class TagClashError(InputError):
    """Two different classes claim one ontology tag."""


def fail(type_name: str, field: str, value: Any, reason: str) -> NoReturn:
    raise ValidationError(type_name, field, value, reason)


def set_validation(enabled: bool) -> None:
    """Switch validators on or off for the whole process (off for hot ingest loops)."""
    global VALIDATE
    VALIDATE = bool(enabled)


def validation_enabled() -> bool:
    return VALIDATE


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Run a block with validators switched on or off, restoring the previous state."""
    previous = VALIDATE
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


# --- registry -------------------------------------------------------------------------------

_REGISTRY: dict[str, type] = {}
registry: Mapping[str, type] = types.MappingProxyType(_REGISTRY)
"""Read-only view: ontology tag -> generated class, for every imported ontology module."""


def register(cls: type) -> type:
    """Add a generated class under its TAG; a tag held by another class is an error."""
    tag: str = cls.TAG  # type: ignore[attr-defined]
    held = _REGISTRY.get(tag)
    if held is not None and _qualname(held) != _qualname(cls):
        raise TagClashError(
            f"ontology tag {tag!r} of {_qualname(cls)} is already registered by {_qualname(held)}"
        )
    _REGISTRY[tag] = cls  # a module reload replaces its own classes
    return cls


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- schemas and fingerprints ----------------------------------------------------------------

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
