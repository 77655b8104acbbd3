"""The flat form of topic tables, as the ML module offers it: `mosaico.tabular`'s flattener
(shared with the client and the CLI) with bad input reported as `MLInputError`.

Nested structs become dotted columns (`acceleration.x`), fixed-size lists one column per
element (`covariance_0` ...) or stay arrays, variable lists stay list columns and binary
stays binary.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from mosaico import tabular
from mosaico.errors import InputError
from mosaico.ml.errors import MLInputError
from mosaico.tabular import FixedLists, column_name

__all__ = [
    "FixedLists",
    "check_fixed_lists",
    "column_name",
    "flat_schema",
    "flatten_table",
    "unflatten_table",
]

P = ParamSpec("P")
R = TypeVar("R")


def _ml_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` with its `InputError` re-raised as this module's `MLInputError`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except InputError as err:
            if isinstance(err, MLInputError):
                raise
            raise MLInputError(*err.args) from err

    return wrapper


check_fixed_lists = _ml_errors(tabular.check_fixed_lists)
flatten_table = _ml_errors(tabular.flatten_table)
flat_schema = _ml_errors(tabular.flat_schema)
unflatten_table = _ml_errors(tabular.unflatten_table)
