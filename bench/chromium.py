"""Debian's chromium as the benches drive it through Playwright: the binary, the flags a
closed network needs, and the wait for the viewer to settle (its ``window.mosaicoViewer``:
``ready`` once a page has rendered, ``pending`` its requests in flight, ``render`` the count
of pages rendered)."""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
IDLE = "() => window.mosaicoViewer && window.mosaicoViewer.ready && !window.mosaicoViewer.pending"


def launch(playwright: Any) -> Any:
    """A headless chromium from a started ``sync_playwright()``."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


def settle(page: Any) -> None:
    """Wait until the viewer's page has rendered and no request is in flight."""
    page.wait_for_function(IDLE, timeout=300_000)


def goto(page: Any, url: str) -> None:
    """Open ``url`` and wait for its page to settle. A change of the hash alone renders the
    new page only after ``goto`` returns, so the wait is for a render after the last one."""
    before = page.evaluate("window.mosaicoViewer ? window.mosaicoViewer.render : 0")
    page.goto(url)
    page.wait_for_function(f"() => window.mosaicoViewer && window.mosaicoViewer.render > {before}")
    settle(page)
