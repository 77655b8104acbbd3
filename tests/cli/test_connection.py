"""One set of connection options for every command: a server that requires an API key and
TLS is reachable from ``ls``, ``info``, ``cat``, ``ingest`` and ``export``, by option or
by environment variable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mosaico.cli import main
from mosaico.server import MosaicoFlightServer
from mosaico.server.access import ApiKeys
from tests.backends import Backend
from tests.bridges.ros.rosbag_fixtures import write
from tests.tls import self_signed

KEY = "secret-key"


@pytest.fixture(scope="module")
def secured(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, Path]]:
    """A server on localhost requiring KEY, over TLS; yields its port and certificate."""
    tmp = tmp_path_factory.mktemp("secured")
    cert, key = self_signed(tmp)
    store = backend.open_store(tmp / "store")
    server = MosaicoFlightServer(
        store, "grpc+tls://localhost:0", api_keys=ApiKeys.parse([KEY]),
        tls=(cert.read_bytes(), key.read_bytes()),
    )  # fmt: skip
    try:
        yield server.port, cert
    finally:
        server.shutdown()
        store.close()


def _invoke(*args: object, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result.exit_code, result.output


def test_ingest_export_and_inspect_reach_a_secured_server(
    secured: tuple[int, Path], tmp_path: Path
) -> None:
    port, cert = secured
    bag, _ = write(tmp_path / "run.bag", "bag", [("/imu", "sensor_msgs/msg/Imu", 7, 5_000_000)])
    remote = ["--host", "localhost", "--port", port, "--api-key", KEY, "--tls-cert", cert]

    code, out = _invoke("ingest", bag, "-s", "secured-run", *remote)
    assert code == 0, out
    assert "ingested 7 messages" in out
    code, out = _invoke("info", "secured-run/imu", *remote)
    assert code == 0 and "rows:" in out and "7" in out, out
    code, out = _invoke("export", "secured-run", tmp_path / "back.mcap", *remote)
    assert code == 0 and "exported 7 messages" in out, out

    env = {
        "MOSAICO_HOST": "localhost", "MOSAICO_PORT": str(port), "MOSAICO_API_KEY": KEY,
        "MOSAICO_TLS_CERT_FILE": str(cert),
    }  # fmt: skip
    code, out = _invoke("ls", env=env)
    assert code == 0 and "secured-run" in out, out
    code, out = _invoke("cat", "secured-run/imu", "--limit", "2", "--format", "jsonl", env=env)
    assert code == 0 and len(out.splitlines()) == 2, out


def test_a_missing_key_or_tls_is_a_clean_error(secured: tuple[int, Path]) -> None:
    port, cert = secured
    code, out = _invoke("ls", "--host", "localhost", "--port", port, "--tls-cert", cert,
                        "--timeout", "0.5")  # fmt: skip
    assert code == 1 and "permission denied" in out and "Traceback" not in out
    code, out = _invoke("ls", "--host", "localhost", "--port", port, "--api-key", KEY,
                        "--timeout", "0.5")  # fmt: skip
    assert code == 1 and "cannot connect" in out


def test_the_target_must_be_given_once(tmp_path: Path) -> None:
    # No server: how the options are checked.
    code, out = _invoke("export", "x", tmp_path / "x.mcap", env={"MOSAICO_STORE": ""})
    assert code == 2 and "--store DIR" in out and "--host HOST" in out
    code, out = _invoke("ls", "--store", tmp_path / "s", "--host", "localhost")
    assert code == 2 and "not both" in out
