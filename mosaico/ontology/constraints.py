"""The constraint model: the value rules a YAML ontology declares, as plain values.

One model of every rule, and one source for what is derived from it:

* the generator resolves the YAML ``min``/``max``/``allowed``/``length``/... keys and the
  ``rules:`` of a type into these values (``mosaico_codegen``), and renders from them the
  per-object ``validate()`` of each class and its hypothesis strategy;
* each generated class carries them (``CONSTRAINTS``: field -> ``Constraints``, ``RULES``),
  and ``mosaico.ontology.checks`` applies them to whole Arrow columns;
* the texts of failed checks are the functions below, used by both kinds of check.

Integer widths and fixed list sizes are not constraints: the field type states them (Arrow
enforces them on columns; ``validate()`` checks them per object).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

__all__ = ["RULE_KINDS", "AtLeastOneOf", "Constraints", "Ordered", "Rule"]


@attrs.frozen
class Constraints:
    """The value rules of one field (for a list field, ``low``/``high``/``allowed`` hold
    for every element and the lengths for the list)."""

    required: bool = False
    """Arrow-nullable (``wire_nullable``) yet a value is required."""
    low: int | float | None = None
    """YAML ``min``: the smallest value allowed (inclusive); None: no lower bound."""
    high: int | float | None = None
    """YAML ``max``: the largest value allowed (inclusive); None: no upper bound."""
    allowed: tuple[Any, ...] | None = None
    """YAML ``allowed``: the only values accepted; None: any value."""
    min_length: int | None = None
    """YAML ``min_length`` (or ``length``): fewest elements of a list field; None: no minimum."""
    max_length: int | None = None
    """YAML ``max_length`` (or ``length``): most elements of a list field; None: no maximum."""

    @property
    def bounded(self) -> bool:
        """Whether a value bound (``low`` or ``high``) is set."""
        return self.low is not None or self.high is not None

    @property
    def sized(self) -> bool:
        """Whether a length bound (``min_length`` or ``max_length``) is set."""
        return self.min_length is not None or self.max_length is not None

    @property
    def empty(self) -> bool:
        """Whether no rule is set at all (the field's type is the only check)."""
        return self == _NONE


_NONE = Constraints()


@attrs.frozen
class Ordered:
    """``ordered: [a, b, ...]``: every value of the list is <= the next (nulls skip the rule)."""

    KIND: ClassVar[str] = "ordered"
    names: tuple[str, ...]


@attrs.frozen
class AtLeastOneOf:
    """``at_least_one_of: [a, b, ...]``: at least one of the fields is set."""

    KIND: ClassVar[str] = "at_least_one_of"
    names: tuple[str, ...]


Rule = Ordered | AtLeastOneOf
RULE_KINDS: dict[str, type[Ordered] | type[AtLeastOneOf]] = {
    r.KIND: r for r in (AtLeastOneOf, Ordered)
}
"""YAML rule key -> rule class."""


# --- the texts of failed checks ----------------------------------------------------------------
# Per-object texts are rendered into validate() by the generator; column texts are used by
# mosaico.ontology.checks. Both name the rule as the YAML states it.

REQUIRED = "a value is required"
EXPECTED_LIST = "expected a list"
AT_LEAST_ONE = "at least one must be set"


def expected_scalar(python: str, yaml: str) -> str:
    """A value of the wrong Python kind for a scalar field of YAML type ``yaml``."""
    return f"expected {python} ({yaml})"


def expected_type(name: str) -> str:
    """A nested field holding something other than an object of type ``name``."""
    return f"expected {name}"


def expected_elements(name: str) -> str:
    """A list field with an element that is not of kind or type ``name``."""
    return f"expected {name} elements"


def within(low: Any, high: Any) -> str:
    """A value outside the field's ``[min, max]``."""
    return f"must be within [{low!r}, {high!r}]"


def elements_within(low: Any, high: Any) -> str:
    """A list element outside the field's ``[min, max]``."""
    return f"elements {within(low, high)}"


def one_of(values: Iterable[Any]) -> str:
    """A value not in the field's ``allowed`` (per object; values sorted)."""
    return f"must be one of {sorted(set(values))}"


def elements_among(values: Iterable[Any]) -> str:
    """A list element not in the field's ``allowed``."""
    return f"elements must be among {sorted(set(values))}"


def exactly(size: int) -> str:
    """A fixed-size list field given another number of elements."""
    return f"needs exactly {size} elements"


def between(low: int | None, high: int | None) -> str:
    """A list field whose length breaks its length bounds (per object)."""
    return f"needs between {low!r} and {high!r} elements"


def satisfies(names: Iterable[str]) -> str:
    """An ``ordered`` rule broken by an object (per object)."""
    return f"must satisfy {' <= '.join(names)}"


def at_least(low: Any) -> str:
    """A column value below the field's ``min``."""
    return f"must be >= {low}"


def at_most(high: Any) -> str:
    """A column value above the field's ``max``."""
    return f"must be <= {high}"


def column_one_of(values: Iterable[Any]) -> str:
    """A column value not in the field's ``allowed`` (values in declared order)."""
    return f"must be one of {list(values)}"


def min_elements(size: int) -> str:
    """A list in a column with fewer elements than the field allows."""
    return f"needs at least {size} elements"


def max_elements(size: int) -> str:
    """A list in a column with more elements than the field allows."""
    return f"allows at most {size} elements"


def not_above(a: str, b: str) -> str:
    """A row of a column batch where field ``a`` is above field ``b`` (``ordered``)."""
    return f"{a} must be <= {b}"
