"""The tag registry: ontology tag -> generated class, for every loaded ontology module.

Generated modules register each class on import, so importing a user's generated package
makes its types known next to the standard ones; one tag held by two classes is an error.

Installed packages need no import: a distribution that declares its generated package under
the entry-point group ``mosaico.ontology`` (``my_robot_types = "my_robot_types"``; the
``pyproject.toml`` that ``mosaico codegen`` writes does) is imported the first time a tag is
missing or the registry is listed, so ``mosaico info``, ``cat`` and ``serve`` know its types.
A package that fails to import is skipped with an ``OntologyPluginWarning`` naming it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Mapping
from importlib import metadata

from mosaico.errors import InputError, MosaicoWarning

__all__ = [
    "ENTRY_POINT_GROUP",
    "OntologyPluginWarning",
    "TagClashError",
    "load_plugins",
    "register",
    "registry",
]

ENTRY_POINT_GROUP = "mosaico.ontology"
"""Entry points of this group name a generated package (a module) to import for its types."""

_REGISTRY: dict[str, type] = {}
_LOCK = threading.RLock()
_loaded: list[str] | None = None  # entry points imported, once discovery has run
_loading = False  # discovery is running in the thread holding _LOCK (a plugin looks up a tag)


class TagClashError(InputError):
    """Two different classes claim one ontology tag."""


class OntologyPluginWarning(MosaicoWarning):
    """An installed ontology package (entry point of ``mosaico.ontology``) failed to load;
    its types stay unknown and their topics decode as ``Unmodeled``."""


class _Registry(Mapping[str, type]):
    """Read-only view of the registered classes that loads the installed ontology packages
    on the first miss or the first listing."""

    def __getitem__(self, tag: str) -> type:
        if tag not in _REGISTRY:
            load_plugins()
        return _REGISTRY[tag]

    def __iter__(self) -> Iterator[str]:
        load_plugins()
        return iter(list(_REGISTRY))

    def __len__(self) -> int:
        load_plugins()
        return len(_REGISTRY)

    def __repr__(self) -> str:
        return f"registry({sorted(_REGISTRY)})"


registry: Mapping[str, type] = _Registry()
"""Read-only view: ontology tag -> generated class, for every imported or installed ontology."""


def register(cls: type) -> type:
    """Add a generated class under its TAG; a tag held by another class is an error."""
    tag: str = cls.TAG  # type: ignore[attr-defined]
    held = _REGISTRY.get(tag)
    if held is not None and _qualname(held) != _qualname(cls):
        msg = f"ontology tag {tag!r} of {_qualname(cls)} is already registered by {_qualname(held)}"
        raise TagClashError(msg)
    _REGISTRY[tag] = cls  # a module reload replaces its own classes
    return cls


def load_plugins() -> list[str]:
    """Import the packages of the ``mosaico.ontology`` entry points (once per process).

    The registry calls it by itself; call it to load them early (``mosaico serve`` does, to
    log them at start). Returns the entry points loaded, as ``name = value``; one that fails
    to import is left out with an ``OntologyPluginWarning``.
    """
    global _loaded, _loading
    if _loaded is not None:
        return list(_loaded)
    with _LOCK:
        if _loaded is not None or _loading:
            return list(_loaded or [])
        _loading = True
        done: list[str] = []
        try:
            for ep in _entry_points():
                if _load(ep):
                    done.append(f"{ep.name} = {ep.value}")
        finally:
            _loaded, _loading = done, False
    return list(done)


def _entry_points() -> list[metadata.EntryPoint]:
    """The group's entry points, once each (a distribution seen twice on sys.path), by name."""
    unique = {(ep.name, ep.value): ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return [unique[key] for key in sorted(unique)]


def _load(ep: metadata.EntryPoint) -> bool:
    try:
        ep.load()
    except Exception as exc:  # a broken plugin must not break reading every other type
        dist = getattr(ep, "dist", None)
        origin = f" of distribution {dist.name!r}" if dist is not None else ""
        warnings.warn(
            f"ontology entry point {ep.name!r} ({ep.value}){origin} in group "
            f"{ENTRY_POINT_GROUP!r} failed to load, its types stay unknown: "
            f"{type(exc).__name__}: {exc}",
            OntologyPluginWarning,
            stacklevel=4,
        )
        return False
    return True


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
