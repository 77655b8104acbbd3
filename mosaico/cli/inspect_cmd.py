"""``mosaico ls | info | cat | rm``: inspect a store (embedded) or a server (remote).

Every command takes the shared connection options of ``mosaico.cli.connection``
(``--store DIR`` embedded, or ``--host/--port`` with ``--api-key``/``--tls``). Output is a
table for people; ``--format`` asks for JSON / JSON lines / CSV for programs.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import click
import pyarrow as pa

from mosaico.cli.connection import with_client
from mosaico.client import MosaicoClient, SequenceHandler, TopicHandler
from mosaico.tabular import flatten_table

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


def table(headers: list[str], rows: list[list[Any]], width: int = 60) -> str:
    """A plain aligned text table; cells are cut to ``width`` characters."""

    def cell(v: Any) -> str:
        text = "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
        text = text.replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON (bytes as base64), for ``--format json``."""
    click.echo(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


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
                    s["span_s"],
                ]
                for s in summaries
            ],
        )  # fmt: skip
    )


# -- info -------------------------------------------------------------------------------


def _split(target: str) -> tuple[str, str | None]:
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
    sequence, topic = _split(target)
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
    for key in ("name", "ontology_tag", "typed", "serialization_format", "rows", "rate_hz",
                "size_bytes", "chunks", "locked"):  # fmt: skip
        click.echo(f"{key + ':':<22}{summary[key]}")
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
                 t["rate_hz"], fmt_time(t["start_ns"]), fmt_time(t["end_ns"]),
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


def _flat(table_: pa.Table) -> pa.Table:
    return flatten_table(table_, fixed_lists="arrays")


def _limited(batches: Iterator[pa.RecordBatch], limit: int | None) -> Iterator[pa.RecordBatch]:
    left = limit
    for batch in batches:
        if left is not None:
            if left <= 0:
                return
            batch = batch.slice(0, left)
            left -= batch.num_rows
        yield batch


@click.command("cat")
@click.argument("target")
@click.option("--start", type=int, default=None, help="First timestamp_ns (inclusive).")
@click.option("--end", type=int, default=None, help="Last timestamp_ns (exclusive).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many rows.")
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table",
              show_default=True)  # fmt: skip
@with_client
def cat(
    client: MosaicoClient, target: str, start: int | None, end: int | None,
    limit: int | None, fmt: str,
) -> None:  # fmt: skip
    """Print the rows of SEQUENCE/TOPIC (or of a whole SEQUENCE, merged) in time order."""
    sequence, topic = _split(target)
    if topic is not None:
        handler = client.topic_handler(sequence, topic)
        if handler is None:
            raise click.ClickException(f"no topic {target!r}")
        stream: Any = handler.get_data_streamer(start, end)
    else:
        seq = client.sequence_handler(sequence)
        if seq is None:
            raise click.ClickException(f"no sequence {sequence!r}")
        stream = seq.get_data_streamer(start_timestamp_ns=start, end_timestamp_ns=end)
    try:
        batches = _limited(stream.batches(), limit)
        if fmt == "jsonl":
            for batch in batches:
                for row in batch.to_pylist():
                    click.echo(json.dumps(_jsonable(row), ensure_ascii=False))
        elif fmt == "csv":
            header = True
            for batch in batches:
                frame = _flat(pa.Table.from_batches([batch])).to_pandas()
                frame.to_csv(sys.stdout, header=header, index=False)
                header = False
        else:
            flat = _flat(pa.Table.from_batches(list(batches), schema=stream.schema))
            names = flat.schema.names
            rows = [[row[n] for n in names] for row in flat.to_pylist()]
            click.echo(table(names, rows, width=24))
    finally:
        stream.close()


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
