"""The Python kinds each scalar family accepts at construction (numpy scalars included).

Users push numpy values as often as Python ones, so an ``int64`` field takes ``np.int64`` and
a ``float64`` field takes any integer or float. The generated ``validate()`` checks against
these tuples; Arrow conversion then stores the values at their declared width.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BOOL", "BYTES", "FLOAT", "INT", "LIST", "STR"]

BOOL: tuple[type, ...] = (bool, np.bool_)
INT: tuple[type, ...] = (int, np.integer)
FLOAT: tuple[type, ...] = (float, int, np.floating, np.integer)
STR: tuple[type, ...] = (str,)
BYTES: tuple[type, ...] = (bytes, bytearray, memoryview)
LIST: tuple[type, ...] = (list, tuple, np.ndarray)
