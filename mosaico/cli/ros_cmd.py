"""`mosaico ingest` / `mosaico export`: ROS recordings ⇄ mosaico sequences (and sequences
to LeRobot datasets, `mosaico.cli.lerobot_cmd`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from mosaico.cli.connection import PlatformTarget, connected, connection_options

_FORMATS = ("mcap", "bag", "db3")
_COMPRESSIONS = ("none", "zstd", "lz4", "bz2")  # mosaico.bridges.ros.compression.CHOICES


def _patterns(values: tuple[str, ...]) -> list[str]:
    """`--topics` may be repeated and each value may hold several comma/space separated globs."""
    return [p for v in values for p in re.split(r"[,\s]+", v) if p]


def _metadata(value: str | None) -> dict[str, Any]:
    if value is None:
        return {}
    text = Path(value).read_text() if Path(value).is_file() else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON nor a JSON file: {exc}", param_hint="--metadata"
        ) from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--metadata")
    return data


def _adapters(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        pattern, sep, adapter = value.rpartition("=")
        if not sep or not pattern or not adapter:
            raise click.BadParameter(
                f"{value!r}: expected TOPIC_GLOB=ADAPTER", param_hint="--adapter"
            )
        out[pattern] = adapter
    return out


@click.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sequence", "-s", "sequence", required=True, help="Name of the new sequence.")
@click.option(
    "--topics", "-t", multiple=True,
    help="ROS topic globs to ingest ('!glob' excludes); repeatable, comma separated.",
)  # fmt: skip
@click.option(
    "--adapter", "adapters", multiple=True, metavar="TOPIC_GLOB=ADAPTER",
    help="Per-topic adapter: 'generic' or a ROS type with a standard adapter; repeatable.",
)  # fmt: skip
@click.option("--metadata", help="Sequence metadata: a JSON object or a JSON file.")
@click.option(
    "--on-error", type=click.Choice(["report", "delete"]), default="report", show_default=True,
    help="Session policy when ingest fails midway: keep what was written, or delete it.",
)  # fmt: skip
@click.option("--validate", is_flag=True, help="Apply mosaico's value checks to every batch.")
@click.option("--dry-run", is_flag=True, help="Show the topics and adapters; write nothing.")
@connection_options
def ingest(
    files: tuple[Path, ...],
    sequence: str,
    topics: tuple[str, ...],
    adapters: tuple[str, ...],
    metadata: str | None,
    on_error: str,
    validate: bool,
    dry_run: bool,
    platform: PlatformTarget,
) -> None:
    """Ingest one ROS recording (.bag files, a .db3/.mcap file or a rosbag2 folder) as a
    sequence."""
    from mosaico.bridges.ros import RosBridgeError, RosSource, plan
    from mosaico.bridges.ros import ingest as run_ingest
    from mosaico.bridges.ros.client_sink import ClientSequence
    from mosaico.client.policies import SessionLevelErrorPolicy
    from mosaico.protocol.errors import ProtocolError

    meta, overrides, patterns = _metadata(metadata), _adapters(adapters), _patterns(topics)
    try:
        if dry_run:
            with RosSource(files) as source:
                plans, skipped = plan(source, patterns, overrides)
            for p in plans:
                tag = p.adapter.topic_type.tag
                click.echo(f"{p.topic.name} -> {p.name}  [{p.topic.msgtype} as {tag}, "
                           f"{p.topic.count} msgs]")  # fmt: skip
            _report_skipped(skipped)
            return
        with connected(platform, create=True) as client:
            if client.sequence_exists(sequence):
                raise click.ClickException(f"sequence {sequence!r} already exists")
            sink = ClientSequence(
                client, sequence, meta, SessionLevelErrorPolicy(on_error), validate
            )
            report = run_ingest(files, sink, topics=patterns, adapters=overrides, progress=True)
    except (RosBridgeError, ProtocolError) as exc:
        raise click.ClickException(str(exc)) from None
    _report_skipped(report.skipped)
    seconds = max(report.seconds, 1e-9)
    # A topic failed midway is listed as skipped above; its kept messages count here.
    complete = sum(t not in report.skipped for t in report.written)
    failed = len(report.written) - complete
    click.echo(
        f"ingested {report.messages:,} messages ({report.nbytes / 1e6:.1f} MB) from "
        f"{complete} topics{f' (+{failed} failed midway)' if failed else ''} into "
        f"{sequence!r} in {report.seconds:.2f} s "
        f"({report.messages / seconds:,.0f} msg/s, {report.nbytes / 1e6 / seconds:.1f} MB/s)"
    )


def _report_skipped(skipped: dict[str, str]) -> None:
    for topic, reason in skipped.items():
        click.echo(f"skipped {topic}: {reason}", err=True)


@click.command("export")
@click.argument("sequences", nargs=-1, required=True, metavar="SEQUENCE...")
@click.argument("out", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice((*_FORMATS, "lerobot")),
    help="bag (ROS 1), db3 or mcap (rosbag2), or lerobot (a LeRobot v3.0 dataset folder). "
    "Default: from OUT's suffix.",
)  # fmt: skip
@click.option(
    "--topics", "-t", multiple=True,
    help="ROS: globs on the stored or the original ROS topic names ('!glob' excludes).",
)  # fmt: skip
@click.option(
    "--compression", type=click.Choice(_COMPRESSIONS),
    help="ROS: bag: lz4 or bz2 chunks; db3/mcap: zstd; or none. Default: as recorded.",
)  # fmt: skip
@click.option("--fps", type=int, help="lerobot: the frame rate of the dataset's grid.")
@click.option(
    "--stream", "streams", multiple=True, metavar="TOPIC=KEY[:FIELD,...]",
    help="lerobot: a topic into a feature: state, action, environment_state, a dotted "
    "feature name, or a camera name for an image topic; repeatable.",
)  # fmt: skip
@click.option("--task", help="lerobot: every episode's task text. Default: the sequence name.")
@click.option("--task-key", help="lerobot: a sequence metadata key holding the task text.")
@click.option(
    "--align", type=click.Choice(["hold", "interpolate"]), default="hold", show_default=True,
    help="lerobot: numeric topics at each frame: the last message, or interpolated.",
)  # fmt: skip
@click.option(
    "--vcodec", type=click.Choice(["h264", "av1"]), default="h264", show_default=True,
    help="lerobot: the cameras' video codec.",
)  # fmt: skip
@click.option("--robot-type", help="lerobot: info.json's robot_type.")
@connection_options
def export(
    sequences: tuple[str, ...],
    out: Path,
    fmt: str | None,
    topics: tuple[str, ...],
    compression: str | None,
    fps: int | None,
    streams: tuple[str, ...],
    task: str | None,
    task_key: str | None,
    align: str,
    vcodec: str,
    robot_type: str | None,
    platform: PlatformTarget,
) -> None:
    """Write a stored sequence back to a ROS recording, with its recorded QoS and
    compression; or sequences (one episode each) to a LeRobot dataset (--format lerobot)."""
    from mosaico.cli.lerobot_cmd import LeRobotOptions, export_lerobot

    options = LeRobotOptions(fps, streams, task, task_key, align, vcodec, robot_type)
    if fmt == "lerobot":
        if topics or compression:
            raise click.UsageError("--topics and --compression are for ROS formats, not lerobot")
        export_lerobot(sequences, out, options, platform)
        return
    if options.given():
        raise click.UsageError(f"{', '.join(options.given())}: only for --format lerobot")
    if len(sequences) != 1:
        raise click.UsageError(
            f"ROS formats export one sequence, got {len(sequences)}: {', '.join(sequences)}"
        )
    _export_ros(sequences[0], out, fmt, topics, compression, platform)


def _export_ros(
    sequence: str,
    out: Path,
    fmt: str | None,
    topics: tuple[str, ...],
    compression: str | None,
    platform: PlatformTarget,
) -> None:
    """Write one stored sequence to a ROS recording."""
    from mosaico.bridges.ros import ROS_KEY, RosBridgeError, TopicFilter
    from mosaico.bridges.ros import export as run_export
    from mosaico.bridges.ros.client_sink import stored_topics
    from mosaico.protocol.errors import ProtocolError

    fmt = fmt or out.suffix.lstrip(".")
    if fmt not in _FORMATS:
        raise click.UsageError(
            "give --format (mcap, bag, db3 or lerobot) or an OUT ending in .mcap, .bag or .db3"
        )
    try:
        with connected(platform) as client:
            stored = stored_topics(client, sequence)
            ros_names = {
                t.name: [t.metadata[ROS_KEY]["topic"]]
                for t in stored
                if isinstance(t.metadata.get(ROS_KEY), dict) and "topic" in t.metadata[ROS_KEY]
            }
            selected = TopicFilter(_patterns(topics)).select([t.name for t in stored], ros_names)
            keep = set(selected)
            chosen = [t for t in stored if t.name in keep]
            report = run_export(chosen, out, fmt, compression=compression, progress=True)
    except (RosBridgeError, ProtocolError, LookupError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    _report_skipped(report.skipped)
    total = sum(report.written.values())
    click.echo(
        f"exported {total:,} messages of {len(report.written)} topics to {out} "
        f"(compression: {report.compression}) in {report.seconds:.2f} s"
    )
