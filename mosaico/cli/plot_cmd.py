"""``mosaico plot``: a PNG or SVG of a topic's numeric fields, downsampled like the viewer.

The figure comes from `mosaico.viewer.plot` (the ``plot`` extra: matplotlib, drawn with
Agg, no display needed); each field is read with only its columns and downsampled to
first/min/max/last per pixel of ``--width``.
"""

from __future__ import annotations

from pathlib import Path

import click

from mosaico.cli.connection import with_client
from mosaico.cli.inspect_cmd import split_target
from mosaico.cli.times import TIME, TimeArg, window
from mosaico.client import MosaicoClient

_FORMATS = (".png", ".svg")
_DPI = 100


@click.command("plot")
@click.argument("target")
@click.argument("fields", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file, .png or .svg (default: SEQUENCE_TOPIC.png here).",
)
@click.option(
    "--start",
    type=TIME,
    default=None,
    help="Start of the range (inclusive); a TIME as for `mosaico cat`.",
)
@click.option("--end", type=TIME, default=None, help="End of the range (exclusive).")
@click.option(
    "--width",
    type=click.IntRange(100, 20000),
    default=1600,
    show_default=True,
    help="Plot width in pixels (one time bucket each).",
)
@click.option("--utc", is_flag=True, help="UTC times on the x axis (default: seconds from start).")
@with_client
def plot(
    client: MosaicoClient, target: str, fields: tuple[str, ...], output: Path | None,
    start: TimeArg | None, end: TimeArg | None, width: int, utc: bool,
) -> None:  # fmt: skip
    """Plot FIELDS (flat dotted names, e.g. acceleration.x) of SEQUENCE/TOPIC.

    Several fields are overlaid with a legend; `mosaico info SEQUENCE/TOPIC` lists a
    topic's fields.
    """
    sequence, topic = split_target(target)
    if topic is None:
        raise click.UsageError(f"TARGET must be SEQUENCE/TOPIC, got {target!r}")
    if output is None:
        output = Path(f"{sequence}_{topic.replace('/', '_')}.png")
    if output.suffix.lower() not in _FORMATS:
        raise click.BadParameter(
            f"{str(output)!r}: the file name must end in .png or .svg", param_hint="--output"
        )
    handler = client.topic_handler(sequence, topic)
    if handler is None:
        raise click.ClickException(f"no topic {target!r}")
    lo, hi = window(start, end, handler.timestamp_ns_min)
    from mosaico.viewer import plot as draw  # after the cheap checks: matplotlib is slow

    figure = draw(
        handler, list(fields), lo, hi, buckets=width, time_axis="utc" if utc else "seconds"
    )
    figure.set_size_inches(width / _DPI, figure.get_size_inches()[1])
    try:
        figure.savefig(output, dpi=_DPI)
    except OSError as exc:
        raise click.ClickException(f"cannot write {str(output)!r}: {exc.strerror}") from None
    click.echo(f"wrote {output}")
