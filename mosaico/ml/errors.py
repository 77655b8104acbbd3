"""The one error type the ML module raises for bad input, and a shared argument check."""

from __future__ import annotations

import numpy as np

from mosaico.errors import InputError


class MLInputError(InputError):
    """Bad input to the ML module: unknown topic or field, bad rate, tolerance or window."""


class WindowIndexError(MLInputError, IndexError):
    """A dataset index outside the windows the dataset has."""


def check_ns(**values: object) -> None:
    """Times and durations are integer nanoseconds (or None): a float would lose precision."""
    for name, v in values.items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer)):
            raise MLInputError(f"{name} must be an integer number of ns, got {v!r}")
