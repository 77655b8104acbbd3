"""``mosaico query``: the sequences and topics that match filters and content conditions.

Conditions are text (``mosaico.query.text``): ``--where 'IMU.acceleration.x > 4'`` on the
rows of any topic type (a generated type's tag or any other, such as a ROS type name),
``--meta 'vehicle.id = alpha'`` on sequence metadata, ``--topic-meta`` on topic metadata,
plus name globs and an ontology tag. ``--ranges DT`` adds, per matching topic, the time
ranges where its conditions hold, split at gaps longer than DT::

    mosaico query --store ./store --where 'IMU.acceleration.x > 4' --meta 'vehicle.id = alpha'
    mosaico query --host lab --where 'my_msgs/msg/Pose.pose.position.z between 0,1.5' \\
        --name 'drive-*' --ranges 100ms --format json
"""

from __future__ import annotations

import re
from typing import Any

import click

from mosaico.cli.connection import with_client
from mosaico.cli.inspect_cmd import emit_json, fmt_measure, fmt_time, span_s, table
from mosaico.client import MosaicoClient
from mosaico.query.search import Search, SearchInputError, run_search

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "min": 60_000_000_000}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|ms|s|min)?\s*")


def duration_ns(text: str) -> int:
    """A duration in ns from ``"0.1"`` (seconds) or a number with a unit: ns, us, ms, s, min.

    Raises:
        click.BadParameter: anything else, or a negative duration.
    """
    found = _DURATION.fullmatch(text)
    if found is None:
        raise click.BadParameter(
            f"{text!r} is not a duration: seconds (0.1) or a number with a unit "
            "(100ms, 2s, 500us, 1000ns)",
            param_hint="--ranges",
        )
    return round(float(found[1]) * _UNITS[found[2] or "s"])


_OPTIONS = {"where": "--where", "meta": "--meta", "topic_meta": "--topic-meta",
            "name": "--name", "topic": "--topic", "tag": "--tag"}  # fmt: skip


def _matches(client: MosaicoClient, search: Search, ranges_ns: int | None) -> list[dict[str, Any]]:
    """`run_search`, a bad condition reported against its option."""
    try:
        return run_search(client, search, ranges_ns)
    except SearchInputError as err:
        raise click.BadParameter(str(err), param_hint=_OPTIONS[err.part]) from None


def _rows(matches: list[dict[str, Any]], ranges: bool) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for match in matches:
        for t in match["topics"] or [{"topic": None, "ontology_tag": None, "ranges": [{}]}]:
            head = [match["sequence"], t["topic"], t["ontology_tag"]]
            if not ranges:
                rows.append(head)
                continue
            for r in t.get("ranges") or [{}]:
                lo, hi = r.get("start_ns"), r.get("end_ns")
                rows.append([*head, fmt_time(lo), fmt_time(hi), fmt_measure(span_s(lo, hi))])
    return rows


@click.command("query")
@click.option("--where", "-w", multiple=True, metavar="'TAG.FIELD OP VALUE'",
              help="Content condition on a topic's rows, e.g. 'IMU.acceleration.x > 4' or "
                   "'sensor_msgs/msg/FluidPressure.fluid_pressure >= 1e5'; repeatable (AND). "
                   "OP: = != < <= > >= in between outside ~ (glob).")
@click.option("--meta", "-m", multiple=True, metavar="'PATH OP VALUE'",
              help="Sequence user-metadata condition, e.g. 'vehicle.id = alpha'; also "
                   "'PATH exists' / 'PATH missing'; repeatable (AND).")
@click.option("--topic-meta", multiple=True, metavar="'PATH OP VALUE'",
              help="Topic user-metadata condition, as --meta; repeatable (AND).")
@click.option("--name", metavar="GLOB", help="Sequence name glob (* ? [a-z] #).")
@click.option("--topic", metavar="GLOB", help="Topic name glob, e.g. '/imu*'.")
@click.option("--tag", help="Only topics of this ontology tag.")
@click.option("--ranges", "ranges", metavar="DT",
              help="Also list, per topic, the time ranges where its conditions hold, split "
                   "at gaps longer than DT: seconds (0.1) or with a unit (100ms, 2s, 500us).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@with_client  # fmt: skip
def query(
    client: MosaicoClient, where: tuple[str, ...], meta: tuple[str, ...],
    topic_meta: tuple[str, ...], name: str | None, topic: str | None, tag: str | None,
    ranges: str | None, fmt: str,
) -> None:  # fmt: skip
    """List the sequences and topics that match every filter and condition given."""
    search = Search(where, meta, topic_meta, name, topic, tag)
    ranges_ns = None if ranges is None else duration_ns(ranges)
    matches = _matches(client, search, ranges_ns)
    if fmt == "json":
        emit_json(matches)
        return
    if not matches:
        click.echo("no sequence matches")
        return
    headers = ["SEQUENCE", "TOPIC", "TAG"]
    if ranges_ns is not None:
        headers += ["RANGE START (UTC)", "RANGE END (UTC)", "SPAN (s)"]
    click.echo(table(headers, _rows(matches, ranges_ns is not None)))
