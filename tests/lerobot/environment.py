"""LeRobot's own environment: a virtualenv beside ``.venv`` with ``lerobot==0.4.4`` and what
its dataset loading imports, to read back what ``mosaico export --format lerobot`` wrote.

LeRobot stays out of the main environment: it pins ``torch<2.11`` and ``torchvision<0.26``
(the main environment has a newer torch), and of its many dependencies (policies, robots,
simulators) loading a dataset needs few. So it is installed ``--no-deps`` over the torch
and torchvision on this machine's disk (PyPI's torchvision does not import beside the main
environment's torch), with the modules ``lerobot.datasets.lerobot_dataset`` imports.

Videos decode through torchcodec (LeRobot's default backend), which loads the system's
FFmpeg libraries (Debian's ``ffmpeg``, installed by ``deploy/packages.sh``). LeRobot's
other backend, ``pyav``, goes through ``torchvision.io.VideoReader``, which torchvision
0.29 no longer has.

``python -m tests.lerobot.environment`` creates or refreshes it and prints its interpreter;
``MOSAICO_LEROBOT_VENV`` moves it (default: ``.venv-lerobot`` in the checkout).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORCH = ("torch==2.14.1", "torchvision==0.29.1")  # on this machine's disk
LEROBOT = "lerobot==0.4.4"
# What LeRobotDataset imports and uses to load a local dataset (within LeRobot's own pins),
# and torchcodec for its videos (the release built for torch 2.14).
DEPENDENCIES = (
    "datasets>=4.0,<5",
    "huggingface-hub>=0.34.2,<0.36",
    "accelerate>=1.10,<2",
    "av>=15,<16",
    "jsonlines>=4,<5",
    "deepdiff>=7.0.1,<9",
    "draccus==0.10.0",
    "packaging>=24.2,<26",
    "torchcodec==0.17.0",
)
COMMAND = "python -m tests.lerobot.environment"


def location() -> Path:
    """Where the LeRobot environment lives."""
    return Path(os.environ.get("MOSAICO_LEROBOT_VENV") or ROOT / ".venv-lerobot")


def python() -> Path:
    """The LeRobot environment's interpreter (which may not exist yet)."""
    return location() / "bin" / "python"


def _stamp() -> str:
    """What the environment was built from: a change to it rebuilds."""
    return hashlib.sha256("\n".join((*TORCH, LEROBOT, *DEPENDENCIES)).encode()).hexdigest()


def _built() -> bool:
    stamp = location() / "mosaico-lerobot.stamp"
    return python().exists() and stamp.exists() and stamp.read_text() == _stamp()


def ensure() -> Path:
    """Create or refresh the LeRobot environment; return its interpreter.

    Raises:
        subprocess.CalledProcessError: a step failed (its output says which).
    """
    if _built():
        return python()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(location())], check=True)
    pip = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *TORCH], check=True)
    subprocess.run([*pip, "--no-deps", LEROBOT], check=True)
    subprocess.run([*pip, *DEPENDENCIES], check=True)
    # Loading a dataset is what the environment is for: check it imports.
    subprocess.run([str(python()), "-c", "import lerobot.datasets.lerobot_dataset"], check=True)
    (location() / "mosaico-lerobot.stamp").write_text(_stamp())
    return python()


if __name__ == "__main__":
    print(ensure())
