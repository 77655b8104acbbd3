"""A real browser for the viewer's tests: Debian's chromium driven by Playwright (PyPI).

``playwright install`` cannot download browsers here, so Playwright is given the Debian
binary (`CHROMIUM`, installed by deploy/packages.sh) with the flags a closed network
needs. Pages are waited on through ``window.mosaicoViewer``: ``ready`` once a page has
rendered, ``pending`` its requests in flight, ``render`` the count of pages rendered. Screenshots go to `ARTIFACTS`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MOSAICO_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("MOSAICO_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "viewer"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
IDLE = "() => window.mosaicoViewer && window.mosaicoViewer.ready && !window.mosaicoViewer.pending"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless chromium for the session."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists() and not shutil.which(str(CHROMIUM)):
        pytest.fail(f"no chromium at {CHROMIUM}: install Debian's chromium (deploy/packages.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (1400x1000) whose script errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    yield tab
    context.close()
    assert not errors, f"script errors in the page: {errors}"


def settle(tab: Any) -> None:
    """Wait until the page has rendered and no request is in flight."""
    tab.wait_for_function(IDLE, timeout=30_000)


def navigate(tab: Any, act: Callable[[], object]) -> None:
    """Do ``act`` (a click that changes the page's address), then wait until the page it
    leads to has rendered and settled: the address changes, and so the page, only after
    the click returns."""
    before = tab.evaluate("window.mosaicoViewer.render")
    act()
    tab.wait_for_function(f"() => window.mosaicoViewer.render > {before}", timeout=30_000)
    settle(tab)


def visit(tab: Any, url: str) -> None:
    """Open ``url`` and wait for it to settle."""
    tab.goto(url)
    settle(tab)


def screenshot(tab: Any, name: str) -> Path:
    """Save a full-page PNG artefact ``name.png``; returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
