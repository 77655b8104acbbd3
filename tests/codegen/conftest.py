from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mosaico.ontology import tags

HERE = Path(__file__).parent


@pytest.fixture
def import_generated(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Import a generated package from a folder; forget it (and its tags) afterwards."""
    added: list[str] = []
    before = dict(tags.registry)

    def load(folder: Path, package: str) -> object:
        monkeypatch.syspath_prepend(str(folder))
        importlib.invalidate_caches()
        added.append(package)
        return importlib.import_module(package)

    yield load
    for name in list(sys.modules):
        if any(name == p or name.startswith(p + ".") for p in added):
            del sys.modules[name]
    tags._REGISTRY.clear()
    tags._REGISTRY.update(before)
