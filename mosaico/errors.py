"""The roots of every exception and warning mosaico defines.

Each layer defines its own errors (``mosaico.protocol.errors``, ``mosaico.ontology``,
``mosaico.client.errors``, ``mosaico.ml``, ``mosaico.bridges.ros``, ...), all derived from
``MosaicoError``, so ``except MosaicoError`` catches everything mosaico raises on purpose.
Errors that replace a built-in one keep it as a second base (an invalid value is still a
``ValueError``), so code written against the built-in types keeps working.

>>> from mosaico import IMU, Vector3d
>>> from mosaico.errors import MosaicoError
>>> try:
...     IMU(acceleration=Vector3d(x=0.0, y=0.0, z=9.8), angular_velocity=None)
... except MosaicoError as exc:
...     print(exc)
IMU.angular_velocity: a value is required (got None)
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "InputTypeError",
    "MissingExtraError",
    "MosaicoError",
    "MosaicoWarning",
    "StateError",
    "UnknownNameError",
]


class MosaicoError(Exception):
    """Root of every exception mosaico defines."""


class MosaicoWarning(UserWarning):
    """Root of every warning mosaico issues."""


class InputError(MosaicoError, ValueError):
    """A value given by the caller is invalid; the message names it and says why."""


class InputTypeError(MosaicoError, TypeError):
    """An object of the wrong kind was given (e.g. a GPS pushed to an IMU topic)."""


class UnknownNameError(MosaicoError, KeyError):
    """A named thing (topic, field, type definition) does not exist."""

    def __str__(self) -> str:
        # KeyError quotes its argument; the message here is a sentence.
        return str(self.args[0]) if self.args else ""


class StateError(MosaicoError, RuntimeError):
    """An operation that the object's current state does not allow (e.g. not started)."""


class MissingExtraError(MosaicoError, ModuleNotFoundError):
    """An optional feature was used without the extra that installs what it needs."""
