"""The one table of type mapping: YAML scalar -> Python annotation, Arrow type, accepted
kinds and hypothesis strategy, plus the fixed vocabulary of the language."""

from __future__ import annotations

from typing import Any

import attrs

from mosaico.protocol import SERIALIZATION_FORMATS

__all__ = ["ENUM_STORAGE", "RESERVED_FIELD_NAMES", "SCALARS", "SERIALIZATION_FORMATS", "Scalar"]


@attrs.frozen
class Scalar:
    """One YAML scalar type and what the generator prints for it.

    `python` is the annotation, `arrow` the expression of its pyarrow type, `kinds` the
    tuple of accepted Python kinds in `mosaico.ontology.kinds`; integer widths carry their
    implicit bounds (`low`, `high`), floats their width.
    """

    yaml: str
    python: str  # annotation
    arrow: str  # expression building the pyarrow type
    kinds: str  # name of the tuple of accepted Python kinds in mosaico.ontology.kinds
    strategy: str = ""  # hypothesis strategy of a non-numeric scalar
    low: int | None = None  # implicit bounds of integer widths
    high: int | None = None
    float_bits: int | None = None

    @property
    def is_integer(self) -> bool:
        """An `int*` / `uint*` scalar (it has implicit bounds)."""
        return self.low is not None

    @property
    def is_float(self) -> bool:
        """A `float16` / `float32` / `float64` scalar."""
        return self.float_bits is not None

    @property
    def is_numeric(self) -> bool:
        """An integer or float scalar: `min` / `max` apply to it."""
        return self.is_integer or self.is_float

    def accepts(self, value: Any) -> bool:
        """Whether a YAML value (a default, an allowed value) is a value of this scalar."""
        if isinstance(value, bool):
            return self.yaml == "bool"
        if self.low is not None and self.high is not None:
            return isinstance(value, int) and self.low <= value <= self.high
        if self.is_float:
            return isinstance(value, (int, float))
        return isinstance(value, {"bool": bool, "string": str, "binary": bytes}[self.yaml])


def _int(name: str, bits: int, signed: bool) -> Scalar:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return Scalar(name, "int", f"pa.{name}()", "INT", low=low, high=high)


def _float(name: str, bits: int) -> Scalar:
    arrow = {16: "pa.float16()", 32: "pa.float32()", 64: "pa.float64()"}[bits]
    return Scalar(name, "float", arrow, "FLOAT", float_bits=bits)


SCALARS: dict[str, Scalar] = {
    s.yaml: s
    for s in [
        Scalar("bool", "bool", "pa.bool_()", "BOOL", "st.booleans()"),
        *(_int(f"int{b}", b, True) for b in (8, 16, 32, 64)),
        *(_int(f"uint{b}", b, False) for b in (8, 16, 32, 64)),
        _float("float16", 16),
        _float("float32", 32),
        _float("float64", 64),
        Scalar("string", "str", "pa.string()", "STR", "_text()"),
        Scalar("binary", "bytes", "pa.binary()", "BYTES", "_binary()"),
    ]
}

ENUM_STORAGE = ("string", *(n for n in SCALARS if n.startswith(("int", "uint"))))

RESERVED_FIELD_NAMES = frozenset(
    {
        "timestamp_ns",
        "TAG",
        "ARROW_TYPE",
        "ARROW_SCHEMA",
        "SERIALIZATION_FORMAT",
        "FINGERPRINT",
        "NESTED",
        "ENUMS",
        "CONSTRAINTS",
        "RULES",
        "SLERP_FIELDS",
        "Q",
        "to_arrow",
        "from_arrow",
        "to_batch",
        "from_batch",
        "validate_batch",
        "validate",
    }
)
