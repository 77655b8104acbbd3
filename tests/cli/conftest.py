"""Fixtures of the CLI tests: the options that point a command at a module's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import Backend


@pytest.fixture
def target(backend: Backend, store: Path) -> Iterator[list[str]]:
    """The options of a ``mosaico`` command that reach the module's ``store`` fixture:
    ``--store DIR`` on the local backend, a server's ``--host``/``--port`` on scale."""
    with backend.cli_target(store) as options:
        yield options
