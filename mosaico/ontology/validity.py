"""Whether values are checked, and what a failed check raises.

Every check of a value (the generated per-object ``validate()``, the column-wise checks of
``mosaico.ontology.checks``) raises ``ValidationError`` naming the type, the field and the
value. The process-wide switch turns the checks off for hot ingest loops.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NoReturn

from mosaico.errors import InputError
from mosaico.ontology.constraints import REQUIRED

__all__ = [
    "ValidationError",
    "fail",
    "missing_or",
    "set_validation",
    "validation",
    "validation_enabled",
]

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


def fail(type_name: str, field: str, value: Any, reason: str) -> NoReturn:
    """Raise the ValidationError of a failed check (called by generated ``validate()``)."""
    raise ValidationError(type_name, field, value, reason)


def missing_or(value: Any, reason: str) -> str:
    """The reason a required field's `value` failed its kind check: no value at all, or
    `reason` (called by generated ``validate()`` once a check has failed)."""
    return REQUIRED if value is None else reason


def set_validation(enabled: bool) -> None:
    """Switch validators on or off for the whole process (off for hot ingest loops)."""
    global VALIDATE
    VALIDATE = bool(enabled)


def validation_enabled() -> bool:
    """Whether values are checked (at construction, and column-wise on conversion)."""
    return VALIDATE


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Run a block with validators switched on or off, restoring the previous state.

    The switch is process-wide, not per thread: other threads see it too.

    >>> with validation(False):  # recorded data, known to break a rule, kept as is
    ...     objs = IMU.from_batch(batch)
    """
    previous = VALIDATE
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)
