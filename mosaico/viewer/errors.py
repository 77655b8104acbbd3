"""The one error type the viewer raises for bad input."""

from __future__ import annotations

from mosaico.errors import InputError


class ViewerError(InputError):
    """Bad input to the viewer: unknown field, non-numeric field, empty range, bad width."""
