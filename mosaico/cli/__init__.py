"""The `mosaico` command line: one click group, one module per command family."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mosaico-sdk")
def main() -> None:
    """mosaico: typed, queryable multi-modal robotics recordings."""


def _register_commands() -> None:
    # Imported here so that each command module stays independent of the others.
    from mosaico.cli import codegen_cmd, demo_cmd

    main.add_command(codegen_cmd.codegen)
    main.add_command(demo_cmd.demo)

    from mosaico.cli import serve_cmd

    main.add_command(serve_cmd.serve)

    from mosaico.cli import inspect_cmd

    for command in (inspect_cmd.ls, inspect_cmd.info, inspect_cmd.cat, inspect_cmd.rm):
        main.add_command(command)

    from mosaico.cli import ros_cmd

    main.add_command(ros_cmd.ingest)
    main.add_command(ros_cmd.export)


_register_commands()
