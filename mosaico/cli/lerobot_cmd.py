"""`mosaico export SEQ... OUT --format lerobot`: sequences as a LeRobot v3.0 dataset.

The `export` command itself (`mosaico.cli.ros_cmd`) parses the arguments; this module runs
the LeRobot export (`mosaico.ml.lerobot`) once it has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import click

from mosaico.cli.connection import PlatformTarget, connected


@attrs.frozen
class LeRobotOptions:
    """The export options of the LeRobot format (`mosaico.ml.lerobot.export_lerobot`)."""

    fps: int | None
    streams: tuple[str, ...]
    task: str | None
    task_key: str | None
    align: str
    vcodec: str
    robot_type: str | None

    def given(self) -> list[str]:
        """The options a user set (for ROS formats, which take none of them)."""
        return [flag for name, flag in _FLAGS.items() if getattr(self, name) != _DEFAULTS[name]]


_FLAGS = {
    "fps": "--fps", "streams": "--stream", "task": "--task", "task_key": "--task-key",
    "align": "--align", "vcodec": "--vcodec", "robot_type": "--robot-type",
}  # fmt: skip
_DEFAULTS = attrs.asdict(LeRobotOptions(None, (), None, None, "hold", "h264", None))


def export_lerobot(
    sequences: Sequence[str], out: Path, options: LeRobotOptions, platform: PlatformTarget
) -> None:
    """Export `sequences` (one episode each) to the dataset folder `out`."""
    from mosaico.ml.lerobot import export_lerobot as run_export

    if options.fps is None:
        raise click.UsageError("--format lerobot needs --fps (the dataset's frame rate)")
    if not options.streams:
        raise click.UsageError("--format lerobot needs --stream TOPIC=KEY (one or more)")
    with connected(platform) as client:
        handlers = []
        for name in sequences:
            handler = client.sequence_handler(name)
            if handler is None:
                raise click.ClickException(f"unknown sequence {name!r}")
            handlers.append(handler)
        report = run_export(
            handlers, out, fps=options.fps, streams=options.streams, task=options.task,
            task_key=options.task_key, align=options.align, vcodec=options.vcodec,
            robot_type=options.robot_type,
        )  # fmt: skip
    features = ", ".join(f"{k} {v}" for k, v in report.features.items())
    click.echo(
        f"exported {report.episodes} episodes ({report.frames:,} frames at {report.fps} fps: "
        f"{features}) to {out} in {report.seconds:.2f} s"
    )
