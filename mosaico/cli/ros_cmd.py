"""`mosaico ingest` / `mosaico export`: ROS recordings ⇄ mosaico sequences (and sequences
to LeRobot datasets, `mosaico.cli.lerobot_cmd`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
from rosbags.typesys import Stores

from mosaico.cli.connection import PlatformTarget, connected, connection_options
from mosaico.cli.ingest_many import skipped_lines

_FORMATS = ("mcap", "bag", "db3")
# rosbags' stores (as mosaico.bridges.ros.definitions.TYPESTORES, without importing the
# bridge for --help).
TYPESTORE_NAMES = [s.value for s in Stores if s is not Stores.EMPTY]
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
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--sequence", "-s", "sequence",
    help="Name of the new sequence: FILES are one recording (several ROS 1 .bag files: "
    "one split recording).",
)  # fmt: skip
@click.option(
    "--sequence-template", "template", metavar="TEMPLATE",
    help="Each recording its own sequence, named by TEMPLATE: {stem}, {name}, {parent}, "
    "{ext}, {path} (e.g. '{parent}-{stem}'); with --watch default '{path}'.",
)  # fmt: skip
@click.option(
    "--watch", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
    help="Ingest each recording that lands in DIR once complete, until Ctrl-C/SIGTERM.",
)  # fmt: skip
@click.option("--once", is_flag=True, help="--watch: ingest what is complete now, then exit.")
@click.option(
    "--interval", type=float, metavar="SECONDS",
    help="--watch: seconds between scans (default 5).",
)  # fmt: skip
@click.option(
    "--state", type=click.Path(dir_okay=False, path_type=Path),
    help="--watch: the state file (default DIR/.mosaico-watch.jsonl).",
)  # fmt: skip
@click.option(
    "--jobs", "-j", type=int,
    help="Recordings ingested at once (--sequence-template, --watch; default 2).",
)  # fmt: skip
@click.option(
    "--topics", "-t", multiple=True,
    help="ROS topic globs to ingest ('!glob' excludes); repeatable, comma separated.",
)  # fmt: skip
@click.option(
    "--adapter", "adapters", multiple=True, metavar="TOPIC_GLOB=ADAPTER",
    help="Per-topic adapter: 'generic', a ROS type with a standard adapter, or for MCAP "
    "protobuf/JSON topics a Foxglove schema (foxglove.LocationFix...); repeatable.",
)  # fmt: skip
@click.option(
    "--msg", "msg", multiple=True, type=click.Path(exists=True, path_type=Path),
    help="Definitions of types the recording lacks: a .msg or .idl file, or a folder of "
    "PKG/msg/NAME.msg files; repeatable. The recording's own definitions win.",
)  # fmt: skip
@click.option(
    "--typestore", "typestores", multiple=True, type=click.Choice(TYPESTORE_NAMES),
    metavar="NAME",
    help="rosbags' store for standard types the recording lacks: "
    f"{', '.join(TYPESTORE_NAMES)} (default ros1_noetic / ros2_humble); one per ROS "
    "generation.",
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
    sequence: str | None,
    template: str | None,
    watch: Path | None,
    once: bool,
    interval: float | None,
    state: Path | None,
    jobs: int | None,
    topics: tuple[str, ...],
    adapters: tuple[str, ...],
    msg: tuple[Path, ...],
    typestores: tuple[str, ...],
    metadata: str | None,
    on_error: str,
    validate: bool,
    dry_run: bool,
    platform: PlatformTarget,
) -> None:
    """Ingest ROS recordings (.bag files, .db3/.mcap files, rosbag2 folders) as sequences;
    an MCAP file may also carry protobuf and JSON channels (the mcap extra).

    One recording with --sequence NAME; each its own sequence with --sequence-template;
    or every recording that lands in a folder with --watch DIR.
    """
    from mosaico.bridges.ros.many import IngestOptions
    from mosaico.cli.ingest_many import Mode, run
    from mosaico.client.policies import SessionLevelErrorPolicy

    mode = Mode(files, sequence, template, watch, once, interval, state, jobs)
    options = IngestOptions(
        tuple(_patterns(topics)), _adapters(adapters), msg, typestores, _metadata(metadata),
        SessionLevelErrorPolicy(on_error), validate,
    )  # fmt: skip
    run(mode, options, platform, dry_run)


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
    for line in skipped_lines(report.skipped):
        click.echo(line, err=True)
    total = sum(report.written.values())
    click.echo(
        f"exported {total:,} messages of {len(report.written)} topics to {out} "
        f"(compression: {report.compression}) in {report.seconds:.2f} s"
    )
