"""The `mosaico` command line: one click group, one module per command family.

Commands that talk to a platform share the options of `mosaico.cli.connection`; mosaico
errors reach the user as one-line messages (``click.ClickException``), not tracebacks::

    mosaico demo                                   # the embedded platform, end to end
    mosaico serve --store ./store --port 6726      # serve a store over Arrow Flight
    mosaico ingest run.mcap -s run-1 --store ./store
    mosaico ls --host robot-lab
    mosaico cat run-1/sensors/imu --host robot-lab --limit 10 --format jsonl
    mosaico plot run-1/sensors/imu acceleration.x acceleration.y -o imu.svg --store ./store
    mosaico ui --store ./store --open                # browse, plot and query in a browser
    mosaico query --host robot-lab --where 'IMU.acceleration.x > 4' --meta 'vehicle.id = alpha'
    mosaico codegen --ontology ./my_types --out ./my_types_pkg
"""

from __future__ import annotations

import importlib

import click

# Each command by name: "module:function" under mosaico.cli. Modules are imported when
# their command runs (or for --help), so `mosaico ingest` does not load the server or the
# viewer: start-up time is part of every command's wall time.
COMMANDS = {
    "cat": "inspect_cmd:cat",
    "codegen": "codegen_cmd:codegen",
    "demo": "demo_cmd:demo",
    "export": "ros_cmd:export",
    "info": "inspect_cmd:info",
    "ingest": "ros_cmd:ingest",
    "ls": "inspect_cmd:ls",
    "plot": "plot_cmd:plot",
    "query": "query_cmd:query",
    "rm": "inspect_cmd:rm",
    "serve": "serve_cmd:serve",
    "ui": "ui_cmd:ui",
}


class _LazyGroup(click.Group):
    """A group whose commands (`COMMANDS`) are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None  # click reports the unknown command
        module, name = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(f"mosaico.cli.{module}"), name)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mosaico-sdk")
def main() -> None:
    """mosaico: typed, queryable multi-modal robotics recordings."""
