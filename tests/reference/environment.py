"""The reference client's own environment: a virtualenv beside ``.venv`` with
``mosaicolabs==0.7.0`` and this checkout of mosaico installed.

The reference client stays out of the main environment: its ``mosaico`` console script
would replace ours and its pins (``rosbags<0.12``, ``numpy<2.5``) would constrain ours. The
tests under ``tests/reference`` and the benchmarks that measure the reference client run
with this environment's interpreter.

``python -m tests.reference.environment [--bench]`` creates or refreshes it and prints its
interpreter (``--bench`` adds what the benchmarks need: the ``ml`` and ``bench`` extras, with
the CPU build of PyTorch); ``MOSAICO_REFERENCE_VENV`` moves it (default:
``.venv-reference`` in the checkout).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = "mosaicolabs==0.7.0"
TORCH = "torch==2.13.0"  # the CPU build on this machine's disk; first, so no CUDA build comes


def location() -> Path:
    """Where the reference environment lives."""
    return Path(os.environ.get("MOSAICO_REFERENCE_VENV") or ROOT / ".venv-reference")


def python() -> Path:
    """The reference environment's interpreter (which may not exist yet)."""
    return location() / "bin" / "python"


def _stamp(bench: bool) -> str:
    """What the environment was built from: a change to it or to pyproject.toml rebuilds."""
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    return hashlib.sha256(REFERENCE.encode() + pyproject + bytes([bench])).hexdigest()


def _built(bench: bool) -> bool:
    stamp = location() / "mosaico-reference.stamp"
    if not python().exists() or not stamp.exists():
        return False
    # An environment built for the benchmarks serves the tests too.
    return stamp.read_text() in {_stamp(bench), _stamp(True)}


def ensure(bench: bool = False) -> Path:
    """Create or refresh the reference environment; return its interpreter.

    mosaicolabs is installed first and mosaico (editable) last, so that in this environment
    too the ``mosaico`` command is ours.
    """
    if _built(bench):
        return python()
    subprocess.run([sys.executable, "-m", "venv", str(location())], check=True)
    pip = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, REFERENCE], check=True)
    if bench:
        subprocess.run([*pip, TORCH], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[{'test,ml,bench' if bench else 'test'}]"], check=True)
    (location() / "mosaico-reference.stamp").write_text(_stamp(bench))
    return python()


if __name__ == "__main__":
    print(ensure(bench="--bench" in sys.argv[1:]))
