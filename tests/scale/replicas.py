"""Several ``mosaico serve`` replicas behind HAProxy, run by the shipped
``deploy/replicas.sh`` (the deployment users copy), for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from tests.scale.services import free_port_block

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "replicas.sh"


@attrs.frozen
class Replicas:
    """A running deployment: HAProxy on ``port``, replica ``i`` (1-based) on ``port + i``,
    its pid file and log in ``folder``."""

    folder: Path
    port: int
    count: int

    def replica_port(self, index: int) -> int:
        """The port of replica ``index`` (1-based), as the script numbers them."""
        return self.port + index

    def pid(self, index: int) -> int:
        """The process id of replica ``index``."""
        return int((self.folder / f"replica{index}.pid").read_text())

    def log(self, index: int) -> str:
        """What replica ``index`` has logged so far."""
        return (self.folder / f"replica{index}.log").read_text()


def _run(action: str, folder: Path, count: int, port: int, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), action, str(folder), str(count), str(port)],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"deploy/replicas.sh {action} failed:\n{done.stderr.strip()}")


@contextmanager
def replicas(
    folder: Path, store: str, catalog: str, count: int = 3, *serve_args: str
) -> Iterator[Replicas]:
    """``count`` replicas over ``store`` and ``catalog`` behind HAProxy until the block ends.

    The replicas run this interpreter with this checkout first on the path; the AWS
    variables of this process (an S3 store's endpoint and keys) reach them.
    """
    port = free_port_block(count + 1)
    env = {
        **os.environ,
        "MOSAICO_SERVE_STORE": store,
        "MOSAICO_CATALOG": catalog,
        "MOSAICO_PYTHON": sys.executable,
        "MOSAICO_SERVE_ARGS": " ".join(serve_args),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        _run("start", folder, count, port, env)
        yield Replicas(folder, port, count)
    finally:
        _run("stop", folder, count, port, env)
