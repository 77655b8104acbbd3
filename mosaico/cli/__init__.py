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

    from mosaico.cli import query_cmd

    main.add_command(query_cmd.query)

    from mosaico.cli import ros_cmd

    main.add_command(ros_cmd.ingest)
    main.add_command(ros_cmd.export)

    from mosaico.cli import plot_cmd

    main.add_command(plot_cmd.plot)

    from mosaico.cli import ui_cmd

    main.add_command(ui_cmd.ui)


_register_commands()
