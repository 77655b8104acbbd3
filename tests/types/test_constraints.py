"""The constraint model is the one source of the value checks of the standard types."""

from __future__ import annotations

import pytest

from mosaico.ontology import Constraints, Ordered, ValidationError, validation
from mosaico.types import Range, Time, Vector3d


def test_classes_carry_their_constraints() -> None:
    time_constraints, vector_constraints, range_rules = (
        Time.CONSTRAINTS,
        Vector3d.CONSTRAINTS,
        Range.RULES,
    )
    assert time_constraints == {"nanoseconds": Constraints(low=0, high=999_999_999)}
    assert vector_constraints["x"] == Constraints(required=True)
    assert range_rules == (Ordered(("min_range", "range", "max_range")),)


def test_column_checks_follow_the_model() -> None:
    with validation(False):
        batch = Vector3d.to_batch([Vector3d(x=1.0, y=None, z=0.0)], [1])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Vector3d.y: a value is required"):
        Vector3d.validate_batch(batch)


def test_objects_are_checked_once_on_the_write_path() -> None:
    with validation(False):
        late = Time(seconds=0, nanoseconds=1_000_000_000)
    batch = Time.to_batch([late], [1])  # checked at construction only, and skipped there
    with pytest.raises(ValidationError, match="Time.nanoseconds: must be <= 999999999"):
        Time.validate_batch(batch)
    with pytest.raises(ValidationError, match=r"Time.nanoseconds: must be within \[0, 999999999\]"):
        late.validate()
