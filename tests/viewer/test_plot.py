"""`mosaico.viewer.plot` and ``mosaico plot``: real figures of a real store's topics."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from mosaico.cli import main
from mosaico.client import MosaicoClient
from mosaico.errors import MissingExtraError
from mosaico.types.sensors import IMU
from mosaico.viewer import ViewerError, downsample, plot
from tests.backends import Backend
from tests.ml.ml_helpers import imu_source

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
FIELDS = ["acceleration.x", "angular_velocity.z"]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def store(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plot") / "store"
    with backend.client(folder) as client, client.sequence_create("run", {}) as seq:
        table = imu_source("/imu", [T0 + k * MS for k in range(5000)], seed=7).table
        seq.topic_create("sensors/imu", {}, IMU).push_batch(table)
        seq.topic_create("empty", {}, IMU)
    return folder


@pytest.fixture
def target(backend: Backend, store: Path) -> Iterator[list[str]]:
    with backend.cli_target(store) as options:
        yield options


@pytest.fixture
def client(backend: Backend, store: Path) -> Iterator[MosaicoClient]:
    with backend.client(store, create=False) as c:
        yield c


def test_the_figure_holds_the_downsampled_series(client: MosaicoClient) -> None:
    handler = client.topic_handler("run", "sensors/imu")
    assert handler is not None
    start, end = T0 + 1000 * MS, T0 + 4000 * MS
    figure = plot(handler, FIELDS, start, end, buckets=300)
    assert isinstance(figure, Figure)
    (ax,) = figure.axes
    want = downsample(handler, FIELDS, start, end, 300)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [
        "acceleration.x [m/s²]",
        "angular_velocity.z [rad/s]",
    ]
    for line, field in zip(lines, FIELDS):
        s = want[field]
        assert np.array_equal(line.get_xdata(), (s.timestamps_ns - start) / 1e9)
        assert np.array_equal(line.get_ydata(), s.values)
        assert 0 < len(s.values) <= 1200
    assert ax.get_xlabel() == "seconds from 2023-11-14T22:13:21.000Z"
    assert ax.get_ylabel() == ""  # two units
    utc = plot(handler, FIELDS[:1], time_axis="utc", ax=Figure().add_subplot())
    x = utc.axes[0].get_lines()[0].get_xdata()
    assert np.asarray(x).dtype == np.dtype("datetime64[ns]")
    assert utc.axes[0].get_ylabel() == "m/s²"


def test_plot_refuses_what_it_cannot_draw(
    client: MosaicoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = client.topic_handler("run", "sensors/imu")
    assert handler is not None
    with pytest.raises(ViewerError, match=r"no samples of acceleration.x in \[1, 2\) ns"):
        plot(handler, ["acceleration.x"], 1, 2)
    with pytest.raises(ViewerError, match="time_axis must be 'seconds' or 'utc'"):
        plot(handler, ["acceleration.x"], time_axis="days")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"the 'plot' extra installs"):
        plot(imu_source("/imu", [1, 2]), ["acceleration.x"])


def _plot(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["plot", *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_cli_writes_png_and_svg(target: list[str], tmp_path: Path) -> None:
    png, svg = tmp_path / "imu.png", tmp_path / "imu.svg"
    code, out = _plot("run/sensors/imu", *FIELDS, "-o", str(png), "--width", "800", *target)
    assert code == 0, out
    assert out.strip() == f"wrote {png}"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out = _plot(
        "run/sensors/imu",
        *FIELDS,
        "-o",
        str(svg),
        "--start",
        "+1s",
        "--end",
        "+3s",
        "--utc",
        *target,
    )
    assert code == 0, out
    root = ET.parse(svg).getroot()
    ids = {str(g.get("id")): g for g in root.iter(f"{SVG}g")}
    groups = {i: g for i, g in ids.items() if i.startswith("series:")}
    assert sorted(groups) == [f"series:{f}" for f in sorted(FIELDS)]
    for g in groups.values():
        assert len(list(g.iter(f"{SVG}path"))) == 1


def test_cli_default_output_name(
    target: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _plot("run/sensors/imu", "acceleration.z", *target)
    assert code == 0, out
    assert (tmp_path / "run_sensors_imu.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope/imu", "acceleration.x"], "Error: no topic 'nope/imu'"),
        (["run/gps", "acceleration.x"], "Error: no topic 'run/gps'"),
        (["run", "acceleration.x"], "TARGET must be SEQUENCE/TOPIC, got 'run'"),
        (["run/sensors/imu", "acceleration.q"], "has no field 'acceleration.q' (numeric fields:"),
        (["run/sensors/imu", "header.frame_id"], "field 'header.frame_id' is not numeric (string)"),
        (
            ["run/sensors/imu", "acceleration.x", "--start", "+100s", "--end", "+101s"],
            "no samples of acceleration.x in",
        ),
        (["run/sensors/imu", "acceleration.x", "--start", "+100s"], "empty time range: end ("),
        (["run/empty", "acceleration.x"], "Error: topic '/empty' has no data"),
        (
            ["run/sensors/imu", "acceleration.x", "-o", "x.jpg"],
            "the file name must end in .png or .svg",
        ),
        (
            ["run/sensors/imu", "acceleration.x", "--start", "+2s", "--end", "+1s"],
            "must be after --start",
        ),
        (["run/sensors/imu", "acceleration.x", "--width", "5"], "Invalid value for '--width'"),
        (["run/sensors/imu"], "Missing argument 'FIELDS...'"),
    ],
)
def test_cli_bad_input_is_one_line(
    target: list[str], tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a if a != "x.jpg" else str(tmp_path / "x.jpg") for a in args]
    code, out = (
        _plot(*args, "-o", str(tmp_path / "p.png"), *target)
        if "-o" not in args
        else _plot(*args, *target)
    )
    assert code != 0
    assert message in out, out
    if code == 1:  # a ClickException: the message alone, on one line
        assert out.count("\n") == 1 and out.startswith("Error: "), out


def test_cli_cannot_write(target: list[str], tmp_path: Path) -> None:
    code, out = _plot(
        "run/sensors/imu", "acceleration.x", "-o", str(tmp_path / "no" / "p.png"), *target
    )
    assert code != 0 and "cannot write" in out and "No such file or directory" in out
