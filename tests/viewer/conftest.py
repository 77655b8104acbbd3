"""The viewer tests' shared fixtures: a real browser (see `tests.viewer.browser`) and the
viewer served over the test recording."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mosaico.client import MosaicoClient
from tests.viewer.browser import browser, page
from tests.viewer.recording import write_recording
from tests.viewer.serving import served

__all__ = ["browser", "page", "viewer"]


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MosaicoClient, str]]:
    """A client of an embedded store holding `tests.viewer.recording`, and the URL of the
    viewer served over it (one per test module)."""
    with MosaicoClient.local(tmp_path_factory.mktemp("ui") / "store", create=True) as client:
        write_recording(client)
        with served(client) as url:
            yield client, url
