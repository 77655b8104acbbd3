"""``mosaico ls | info | cat | rm``: inspect a store (embedded) or a server (remote).

Every command takes the shared connection options of ``mosaico.cli.connection``
(``--store DIR`` embedded, or ``--host/--port`` with ``--api-key``/``--tls``). Output is a
table for people; ``--format`` asks for JSON / JSON lines / CSV for programs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import click
import pyarrow as pa

from mosaico.cli.connection import with_client
from mosaico.cli.rows import csv_chunks, jsonable, jsonl_lines, text_cells
from mosaico.cli.times import TIME, TimeArg, window
from mosaico.client import MosaicoClient, SequenceHandler, TopicHandler

# -- formatting ---------------------------------------------------------------------------


def fmt_time(ns: int | None) -> str:
    """Nanoseconds since the epoch as UTC ``YYYY-MM-DD HH:MM:SS.mmm``; ``-`` for None."""
    if ns is None:
        return "-"
    moment = datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def fmt_bytes(n: int) -> str:
    """A byte count for people: ``512 B``, ``1.5 KiB`` ... up to GiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def span_s(lo: int | None, hi: int | None) -> float | None:
    """Seconds from ``lo`` to ``hi`` (ns); None when either is unknown."""
    return None if lo is None or hi is None else (hi - lo) / 1e9


def rate_hz(rows: int, lo: int | None, hi: int | None) -> float | None:
    """Mean rate of ``rows`` samples spread over ``[lo, hi]`` (ns); None below two rows or
    with no span."""
    span = span_s(lo, hi)
    return (rows - 1) / span if span and rows > 1 else None


def fmt_measure(value: float | None) -> str:
    """A derived measure (a rate, a span) for people, at 3 decimals; ``-`` for None.

    Only for figures computed here: stored values are printed exactly (see `table`)."""
    return "-" if value is None else f"{value:.3f}"


def table(headers: list[str], rows: list[list[Any]], width: int = 60) -> str:
    """A plain aligned text table; cells are cut to ``width`` characters (marked ``…``).

    A float prints in full (``repr``, the shortest text that reads back as the same
    value), so a width of at least 24 never cuts one.
    """

    def cell(v: Any) -> str:
        text = "-" if v is None else str(v)
        text = text.replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON (bytes as base64), for ``--format json``."""
    click.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


# -- ls ---------------------------------------------------------------------------------


def _sequence_summary(handler: SequenceHandler) -> dict[str, Any]:
    lo, hi = handler.timestamp_ns_min, handler.timestamp_ns_max
    return {
        "name": handler.name,
        "topics": len(handler.topics),
        "sessions": len(handler.sessions),
        "rows": handler.total_row_count,
        "size_bytes": handler.total_size_bytes,
        "start_ns": lo,
        "end_ns": hi,
        "span_s": span_s(lo, hi),
        "created_at_ns": handler.created_timestamp,
    }


@click.command("ls")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
@with_client
def ls(client: MosaicoClient, fmt: str) -> None:
    """List sequences with their size, time span and topic count."""
    summaries = []
    for name in client.list_sequences():
        handler = client.sequence_handler(name)
        if handler is not None:  # deleted between the listing and the lookup
            summaries.append(_sequence_summary(handler))
    if fmt == "json":
        emit_json(summaries)
        return
    click.echo(
        table(
            ["SEQUENCE", "TOPICS", "ROWS", "SIZE", "START (UTC)", "SPAN (s)"],
            [
                [
                    s["name"],
                    s["topics"],
                    s["rows"],
                    fmt_bytes(s["size_bytes"]),
                    fmt_time(s["start_ns"]),
                    fmt_measure(s["span_s"]),
                ]
                for s in summaries
            ],
        )  # fmt: skip
    )


# -- info -------------------------------------------------------------------------------


def split_target(target: str) -> tuple[str, str | None]:
    """``SEQUENCE/TOPIC`` (or ``SEQUENCE``) as the sequence and the topic (None if none)."""
    sequence, _, topic = target.strip("/").partition("/")
    return sequence, topic or None


def _topic_summary(handler: TopicHandler) -> dict[str, Any]:
    lo, hi = handler.timestamp_ns_min, handler.timestamp_ns_max
    return {
        "name": handler.name,
        "ontology_tag": handler.ontology_tag,
        "typed": handler.ontology_type is not None,
        "serialization_format": handler.serialization_format,
        "rows": handler.row_count,
        "rate_hz": rate_hz(handler.row_count, lo, hi),
        "start_ns": lo,
        "end_ns": hi,
        "size_bytes": handler.total_size_bytes,
        "chunks": handler.chunks_number,
        "locked": handler.locked,
        "user_metadata": handler.user_metadata,
    }


@click.command("info")
@click.argument("target")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
@with_client
def info(client: MosaicoClient, target: str, fmt: str) -> None:
    """Describe SEQUENCE (metadata, sessions, topics) or SEQUENCE/TOPIC (plus its schema)."""
    sequence, topic = split_target(target)
    if topic is not None:
        _topic_info(client, sequence, topic, fmt)
    else:
        _sequence_info(client, sequence, fmt)


def _topic_info(client: MosaicoClient, sequence: str, topic: str, fmt: str) -> None:
    handler = client.topic_handler(sequence, topic)
    if handler is None:
        raise click.ClickException(f"no topic {sequence + '/' + topic!r}")
    summary = _topic_summary(handler)
    summary["schema"] = [
        f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in handler.schema
    ]
    summary["notifications"] = [
        n.to_json() for n in client.list_topic_notifications(sequence, topic)
    ]
    if fmt == "json":
        emit_json(summary)
        return
    for key in ("name", "ontology_tag", "typed", "serialization_format", "rows", "size_bytes",
                "chunks", "locked"):  # fmt: skip
        click.echo(f"{key + ':':<22}{summary[key]}")
    click.echo(f"{'rate_hz:':<22}{fmt_measure(summary['rate_hz'])}")
    click.echo(
        f"{'time span:':<22}{fmt_time(summary['start_ns'])} .. {fmt_time(summary['end_ns'])}"
    )
    click.echo(f"{'user metadata:':<22}{json.dumps(summary['user_metadata'])}")
    click.echo("schema:")
    for line in summary["schema"]:
        click.echo(f"  {line}")
    _echo_notifications(summary["notifications"])


def _sequence_info(client: MosaicoClient, sequence: str, fmt: str) -> None:
    seq = client.sequence_handler(sequence)
    if seq is None:
        raise click.ClickException(f"no sequence {sequence!r}")
    topics = [_topic_summary(seq.get_topic_handler(name)) for name in seq.topics]
    summary = _sequence_summary(seq)
    summary["user_metadata"] = seq.user_metadata
    summary["sessions"] = [s.to_json() for s in seq.sessions]
    summary["topics"] = topics
    summary["notifications"] = [n.to_json() for n in client.list_sequence_notifications(sequence)]
    if fmt == "json":
        emit_json(summary)
        return
    click.echo(f"sequence:       {seq.name}")
    click.echo(f"created:        {fmt_time(seq.created_timestamp)}")
    click.echo(f"time span:      {fmt_time(summary['start_ns'])} .. {fmt_time(summary['end_ns'])}"
               f" ({summary['span_s'] or 0:.3f} s)")  # fmt: skip
    click.echo(f"rows / size:    {summary['rows']} / {fmt_bytes(summary['size_bytes'])}")
    click.echo(f"user metadata:  {json.dumps(seq.user_metadata)}")
    click.echo("\nsessions:")
    click.echo(
        table(
            ["LOCATOR", "CREATED (UTC)", "COMPLETED (UTC)", "LOCKED", "TOPICS"],
            [
                [s.locator, fmt_time(s.created_at_ns), fmt_time(s.completed_at_ns), s.locked,
                 len(s.topics)]
                for s in seq.sessions
            ],
        )  # fmt: skip
    )
    click.echo("\ntopics:")
    click.echo(
        table(
            ["TOPIC", "TAG", "ROWS", "RATE (Hz)", "START (UTC)", "END (UTC)", "SIZE"],
            [
                [t["name"], t["ontology_tag"] + ("" if t["typed"] else " (untyped)"), t["rows"],
                 fmt_measure(t["rate_hz"]), fmt_time(t["start_ns"]), fmt_time(t["end_ns"]),
                 fmt_bytes(t["size_bytes"])]
                for t in topics
            ],
        )  # fmt: skip
    )
    _echo_notifications(summary["notifications"])


def _echo_notifications(notes: list[dict[str, Any]]) -> None:
    if notes:
        click.echo("\nnotifications:")
        for n in notes:
            click.echo(f"  [{n['created_datetime']}] {n['notification_type']}: {n['msg']}")


# -- cat --------------------------------------------------------------------------------


def _limited(batches: Iterator[pa.RecordBatch], limit: int | None) -> Iterator[pa.RecordBatch]:
    left = limit
    for batch in batches:
        if left is not None:
            if left <= 0:
                return
            batch = batch.slice(0, left)
            left -= batch.num_rows
        yield batch


_TIME_HELP = "TIME: ISO-8601 (naive = UTC), seconds since the epoch, NUMBER+unit, or +OFFSET"


@click.command("cat")
@click.argument("target")
@click.option("--start", type=TIME, default=None,
              help=f"First time to print (inclusive). {_TIME_HELP}.")  # fmt: skip
@click.option("--end", type=TIME, default=None,
              help=f"End of the window (exclusive). {_TIME_HELP}.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many rows.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
              show_default=True)  # fmt: skip
@with_client
def cat(
    client: MosaicoClient, target: str, start: TimeArg | None, end: TimeArg | None,
    limit: int | None, fmt: str,
) -> None:  # fmt: skip
    """Print the rows of SEQUENCE/TOPIC (or of a whole SEQUENCE, merged) in time order.

    Values are printed exactly (floats in their shortest round-trip form). CSV and the
    table flatten nested fields to dotted columns and write lists as JSON arrays; bytes are
    base64 in every format.

    A TIME for --start/--end is an ISO-8601 time (2024-05-01T12:00:00.5Z, or with a space
    as ls and info print it; no offset means UTC), a bare number of seconds since the epoch
    (1714564800.5), a number with a unit h, min, s, ms, us or ns (1714564800500ms,
    1714564800500000000ns), or +OFFSET from the first timestamp of TARGET (+2.5s, +500ms).
    A bare number too large to be seconds (after the year 3000) is refused, not guessed.
    """
    sequence, topic = split_target(target)
    if topic is not None:
        handler = client.topic_handler(sequence, topic)
        if handler is None:
            raise click.ClickException(f"no topic {target!r}")
        lo, hi = window(start, end, handler.timestamp_ns_min)
        stream: Any = handler.get_data_streamer(lo, hi)
        batches, schema = stream.batches(), stream.schema
    else:
        seq = client.sequence_handler(sequence)
        if seq is None:
            raise click.ClickException(f"no sequence {sequence!r}")
        lo, hi = window(start, end, seq.timestamp_ns_min)
        stream = seq.get_data_streamer(start_timestamp_ns=lo, end_timestamp_ns=hi)
        batches, schema = stream.wide_batches(), stream.wide_schema
    try:
        _print(_limited(batches, limit), schema, fmt, merged=topic is None)
    finally:
        stream.close()


def _print(batches: Iterator[pa.RecordBatch], schema: pa.Schema, fmt: str, merged: bool) -> None:
    if fmt == "jsonl":
        for line in jsonl_lines(batches, merged):
            click.echo(line)
    elif fmt == "csv":
        for text in csv_chunks(batches, schema):
            click.echo(text, nl=False)
    else:
        names, rows = text_cells(batches, schema)
        click.echo(table(names, rows, width=24))


# -- rm ---------------------------------------------------------------------------------


@click.command("rm")
@click.argument("sequence")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@with_client
def rm(client: MosaicoClient, sequence: str, yes: bool) -> None:
    """Delete SEQUENCE with all its sessions, topics and data."""
    if not client.sequence_exists(sequence):
        raise click.ClickException(f"no sequence {sequence!r}")
    if not yes:
        click.confirm(f"delete sequence {sequence!r} and all its data?", abort=True)
    client.sequence_delete(sequence)
    click.echo(f"deleted {sequence}")
