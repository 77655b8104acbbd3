"""``mosaico ui`` as a user runs it: a real process over an embedded store, reached over HTTP
on 127.0.0.1; bad options are one-line errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mosaico.client import MosaicoClient
from tests.viewer.recording import SEQUENCES, write_recording
from tests.viewer.serving import bind, get, get_json


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uicmd") / "store"
    with MosaicoClient.local(path, create=True) as client:
        write_recording(client)
    return path


def _mosaico(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mosaico", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_ui_serves_the_pages_and_the_api(store: Path) -> None:
    with bind() as sock:
        port = sock.getsockname()[1]
    process = _mosaico("ui", "--store", str(store), "--ui-port", str(port))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"mosaico ui: http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        deadline = time.monotonic() + 20
        while True:
            try:
                status, kind, body = get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert time.monotonic() < deadline, "mosaico ui does not answer"
                time.sleep(0.1)
        assert (status, kind) == (200, "text/html; charset=utf-8") and b"/static/js/main.js" in body
        for asset in ["js/main.js", "vendor/uPlot.iife.min.js", "vendor/Arrow.es2015.min.js"]:
            assert get(f"http://127.0.0.1:{port}/static/{asset}")[0] == 200
        assert get_json(f"http://127.0.0.1:{port}/api/sequences")["total"] == SEQUENCES
    finally:
        process.terminate()
        process.wait(20)


def test_a_taken_port_is_named(store: Path) -> None:
    with bind() as sock:
        sock.listen()
        port = sock.getsockname()[1]
        process = _mosaico("ui", "--store", str(store), "--ui-port", str(port))
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--ui-port" in err
    assert "Traceback" not in err


def test_a_missing_store_is_named(tmp_path: Path) -> None:
    process = _mosaico("ui", "--store", str(tmp_path / "none"))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1 and "--store" in err and "Traceback" not in err
