"""The tag registry: ontology tag -> generated class, for every imported ontology module.

Generated modules register each class on import, so importing a user's generated package
makes its types known next to the standard ones; one tag held by two classes is an error.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from mosaico.errors import InputError

__all__ = ["TagClashError", "register", "registry"]

_REGISTRY: dict[str, type] = {}
registry: Mapping[str, type] = types.MappingProxyType(_REGISTRY)
"""Read-only view: ontology tag -> generated class, for every imported ontology module."""


class TagClashError(InputError):
    """Two different classes claim one ontology tag."""


def register(cls: type) -> type:
    """Add a generated class under its TAG; a tag held by another class is an error."""
    tag: str = cls.TAG  # type: ignore[attr-defined]
    held = _REGISTRY.get(tag)
    if held is not None and _qualname(held) != _qualname(cls):
        msg = f"ontology tag {tag!r} of {_qualname(cls)} is already registered by {_qualname(held)}"
        raise TagClashError(msg)
    _REGISTRY[tag] = cls  # a module reload replaces its own classes
    return cls


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
