"""The one table of type mapping: YAML scalar -> Python, numpy, Arrow, validator, strategy."""

from __future__ import annotations

import attrs


@attrs.frozen
class Scalar:
    yaml: str
    python: str  # annotation
    numpy: str  # numpy dtype name
    arrow: str  # expression building the pyarrow type
    kinds: str  # runtime tuple of accepted Python kinds
    strategy: str  # hypothesis strategy expression, before bounds are applied
    low: int | None = None  # implicit bounds of integer widths
    high: int | None = None

    @property
    def is_integer(self) -> bool:
        return self.low is not None

    @property
    def is_float(self) -> bool:
        return self.yaml.startswith("float")

    @property
    def is_numeric(self) -> bool:
        return self.is_integer or self.is_float


def _int(name: str, bits: int, signed: bool) -> Scalar:
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return Scalar(name, "int", name, f"pa.{name}()", "runtime.INT_KINDS", "st.integers", low, high)


def _float(name: str, bits: int) -> Scalar:
    arrow = {16: "pa.float16()", 32: "pa.float32()", 64: "pa.float64()"}[bits]
    return Scalar(name, "float", name, arrow, "runtime.FLOAT_KINDS", f"st.floats(width={bits}")


SCALARS: dict[str, Scalar] = {
    s.yaml: s
    for s in [
        Scalar("bool", "bool", "bool", "pa.bool_()", "runtime.BOOL_KINDS", "st.booleans()"),
        *(_int(f"int{b}", b, True) for b in (8, 16, 32, 64)),
        *(_int(f"uint{b}", b, False) for b in (8, 16, 32, 64)),
        _float("float16", 16),
        _float("float32", 32),
        _float("float64", 64),
        Scalar("string", "str", "object", "pa.string()", "runtime.STR_KINDS", "_text()"),
        Scalar("binary", "bytes", "object", "pa.binary()", "runtime.BYTES_KINDS", "_binary()"),
    ]
}

ENUM_STORAGE = ("string", *(n for n in SCALARS if n.startswith(("int", "uint"))))

SERIALIZATION_FORMATS = ("default", "ragged", "image")

RESERVED_FIELD_NAMES = frozenset(
    {
        "timestamp_ns",
        "TAG",
        "ARROW_TYPE",
        "ARROW_SCHEMA",
        "SERIALIZATION_FORMAT",
        "FINGERPRINT",
        "NESTED",
        "COLUMN_CHECKS",
        "RULES",
        "SLERP_FIELDS",
        "Q",
        "to_arrow",
        "from_arrow",
        "to_batch",
        "from_batch",
        "validate_batch",
    }
)


def strategy_for(scalar: Scalar, low: float | None, high: float | None) -> str:
    """Hypothesis strategy expression for a scalar within the given bounds."""
    if scalar.is_integer:
        lo = scalar.low if low is None else max(int(low), scalar.low)  # type: ignore[type-var]
        hi = scalar.high if high is None else min(int(high), scalar.high)  # type: ignore[type-var]
        return f"st.integers(min_value={lo}, max_value={hi})"
    if scalar.is_float:
        bounds = ""
        if low is not None:
            bounds += f", min_value={float(low)!r}"
        if high is not None:
            bounds += f", max_value={float(high)!r}"
        return f"{scalar.strategy}, allow_nan=False{bounds})"
    return scalar.strategy
