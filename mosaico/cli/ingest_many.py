"""The three ways of `mosaico ingest` (`ros_cmd.ingest` parses, this runs them):

- `FILES... --sequence NAME`: one recording into one sequence (several ROS 1 `.bag` files
  given together are one split recording);
- `FILES... --sequence-template T`: each file or rosbag2 folder its own sequence, named by
  the template, several at once (`--jobs`), one progress line and a summary table; the
  command fails (exit 1) when any recording failed, after the others are done;
- `--watch DIR [--once]`: the recordings landing in DIR, each once it is complete
  (`mosaico.bridges.ros.watch`).

Ctrl-C or SIGTERM stops cleanly: no new recording starts, the running ones finish. A
second one aborts them (their sessions end by `--on-error`).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import attrs
import click

from mosaico.cli.connection import PlatformTarget, connected
from mosaico.cli.inspect_cmd import table

if TYPE_CHECKING:
    from mosaico.bridges.ros.ingest import IngestReport
    from mosaico.bridges.ros.many import IngestOptions, JobResult
    from mosaico.client import MosaicoClient


@attrs.frozen
class Mode:
    """Which way `mosaico ingest` runs, from its arguments (`Mode.of` checks them)."""

    files: tuple[Path, ...]
    sequence: str | None = None
    template: str | None = None
    watch: Path | None = None
    once: bool = False
    interval: float | None = None
    state: Path | None = None
    jobs: int | None = None

    def check(self) -> None:
        """Raise `click.UsageError` for arguments that do not go together."""
        if self.watch is not None:
            self._check_watch()
            return
        watch_only = [n for n, v in self._watch_options().items() if v]
        if watch_only:
            raise click.UsageError(f"{', '.join(watch_only)}: only with --watch DIR")
        if not self.files:
            raise click.UsageError("give the recordings to ingest (FILES...) or --watch DIR")
        if self.sequence is not None and self.template is not None:
            raise click.UsageError(
                "give --sequence NAME (one recording) or --sequence-template TEMPLATE (each "
                "recording its own sequence), not both"
            )
        if self.sequence is None and self.template is None:
            raise click.UsageError(
                "give --sequence NAME (one recording) or --sequence-template TEMPLATE (each "
                "recording its own sequence, e.g. '{stem}')"
            )
        if self.sequence is not None:
            self._check_single()

    def _watch_options(self) -> dict[str, Any]:
        return {"--once": self.once, "--interval": self.interval, "--state": self.state}

    def _check_watch(self) -> None:
        if self.files:
            raise click.UsageError("--watch DIR takes no FILES: it ingests what lands in DIR")
        if self.sequence is not None:
            raise click.UsageError(
                "--watch names each recording with --sequence-template (default '{path}'), "
                "not --sequence"
            )
        if self.interval is not None and self.interval <= 0:
            raise click.UsageError(f"--interval must be above 0, got {self.interval}")

    def _check_single(self) -> None:
        if self.jobs is not None:
            raise click.UsageError("--jobs: only with --sequence-template or --watch")
        if len(self.files) > 1 and any(f.suffix != ".bag" or f.is_dir() for f in self.files):
            raise click.UsageError(
                f"{len(self.files)} recordings given with --sequence: only ROS 1 .bag files "
                "given together are one (split) recording; give --sequence-template (e.g. "
                "'{stem}') to ingest each as its own sequence"
            )


def report_line(report: IngestReport, sequence: str) -> str:
    """One line on what an ingest wrote: messages, size, topics, time, rates."""
    seconds = max(report.seconds, 1e-9)
    # A topic failed midway is listed as skipped; its kept messages count here.
    complete = sum(t not in report.skipped for t in report.written)
    failed = len(report.written) - complete
    return (
        f"ingested {report.messages:,} messages ({report.nbytes / 1e6:.1f} MB) from "
        f"{complete} topics{f' (+{failed} failed midway)' if failed else ''} into "
        f"{sequence!r} in {report.seconds:.2f} s "
        f"({report.messages / seconds:,.0f} msg/s, {report.nbytes / 1e6 / seconds:.1f} MB/s)"
    )


def skipped_lines(skipped: dict[str, str], indent: str = "") -> list[str]:
    """`skipped TOPIC: reason`, one per skipped topic."""
    return [f"{indent}skipped {topic}: {reason}" for topic, reason in skipped.items()]


def result_lines(result: JobResult) -> list[str]:
    """How one of many recordings went: its line, then its skipped topics indented."""
    if result.report is None:
        return [f"FAILED {result.job.label}: {result.error}"]
    head = f"{result.job.label}: {report_line(result.report, result.job.sequence)}"
    return [head, *skipped_lines(result.report.skipped, "  ")]


def summary(results: Sequence[JobResult]) -> str:
    """The table of every recording, and a total line."""
    rows = []
    for r in results:
        rep = r.report
        rows.append([
            r.job.label, r.job.sequence or "-", "ok" if r.ok else "FAILED",
            f"{rep.messages:,}" if rep else "-", f"{rep.nbytes / 1e6:.1f}" if rep else "-",
            len(rep.written) if rep else "-", f"{r.seconds:.2f}",
            r.error if rep is None else (f"{len(rep.skipped)} topics skipped" if rep.skipped else ""),
        ])  # fmt: skip
    head = ["recording", "sequence", "status", "messages", "MB", "topics", "seconds", "note"]
    failed = sum(not r.ok for r in results)
    messages = sum(r.report.messages for r in results if r.report)
    total = (
        f"{len(results) - failed} of {len(results)} recordings ingested"
        f"{f', {failed} failed' if failed else ''}; {messages:,} messages"
    )
    return table(head, rows, width=80) + "\n" + total


@contextmanager
def stop_on_signals(stop: threading.Event, client: MosaicoClient) -> Iterator[None]:
    """First Ctrl-C / SIGTERM sets `stop`; the second closes the client, which aborts the
    running ingests; after that the default handlers are back."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            stop.set()
            click.echo("stopping once the running ingests end (again to abort them)", err=True)
            return
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("aborting the running ingests", err=True)
        client.close()

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Display:
    """The progress line of the ingests running now, and result lines printed above it."""

    def __init__(self) -> None:
        self.bar: Any = None

    def progress(self, recordings: int | None) -> Any:
        """A new progress line (a `ManyProgress`) for the next ingests."""
        from mosaico.bridges.ros.many import ManyProgress

        self.bar = ManyProgress(recordings, enabled=True)
        return self.bar

    def echo(self, result: JobResult) -> None:
        """Print how one recording went."""
        for line in result_lines(result):
            if self.bar is not None:
                self.bar.note(line)
            else:
                click.echo(line)


def _waiting(path: Path, reason: str) -> None:
    click.echo(f"waiting for {path}: {reason}", err=True)


def run_single(mode: Mode, options: IngestOptions, platform: PlatformTarget) -> None:
    """`FILES --sequence NAME`: one recording; errors end the command."""
    from mosaico.bridges.ros.many import Job, ingest_job

    assert mode.sequence is not None
    with connected(platform, create=True) as client:
        if client.sequence_exists(mode.sequence):
            raise click.ClickException(f"sequence {mode.sequence!r} already exists")
        result = ingest_job(client, Job(mode.files, mode.sequence), options, progress=True)
    if result.report is None:
        raise click.ClickException(str(result.error))
    for line in skipped_lines(result.report.skipped):
        click.echo(line, err=True)
    click.echo(report_line(result.report, mode.sequence))


def _workers(mode: Mode) -> int:
    from mosaico.bridges.ros.many import DEFAULT_WORKERS

    jobs = DEFAULT_WORKERS if mode.jobs is None else mode.jobs
    if jobs < 1:
        raise click.UsageError(f"--jobs must be at least 1, got {jobs}")
    return jobs


def run_many(mode: Mode, options: IngestOptions, platform: PlatformTarget) -> None:
    """`FILES --sequence-template T`: each recording its own sequence; exit 1 if any
    failed."""
    from mosaico.bridges.ros import RosBridgeError
    from mosaico.bridges.ros.many import ingest_many, plan_jobs
    from mosaico.bridges.ros.source import ros_version

    assert mode.template is not None
    workers = _workers(mode)
    try:
        for path in mode.files:
            ros_version([path])  # exists, and is a recording
    except RosBridgeError as exc:
        raise click.UsageError(str(exc)) from None
    with connected(platform, create=True) as client:
        try:
            jobs = plan_jobs(mode.files, mode.template, client.list_sequences())
        except RosBridgeError as exc:
            raise click.ClickException(str(exc)) from None
        stop, display = threading.Event(), _Display()
        bar = display.progress(len(jobs))
        with stop_on_signals(stop, client):
            try:
                results = ingest_many(
                    client, jobs, options, workers=workers, progress=bar, stop=stop,
                    on_result=display.echo,
                )  # fmt: skip
            finally:
                bar.close()
    order = {job: i for i, job in enumerate(jobs)}
    click.echo(summary(sorted(results, key=lambda r: order[r.job])))
    left = len(jobs) - len(results)
    if left:
        click.echo(f"stopped: {left} recordings not started", err=True)
    if left or any(not r.ok for r in results):
        sys.exit(1)


def run_watch(mode: Mode, options: IngestOptions, platform: PlatformTarget) -> None:
    """`--watch DIR`: ingest what lands in DIR until stopped (or once, `--once`)."""
    from mosaico.bridges.ros import RosBridgeError
    from mosaico.bridges.ros.watch import DEFAULT_TEMPLATE, STATE_FILE, Watcher

    assert mode.watch is not None
    workers = _workers(mode)
    display = _Display()
    with connected(platform, create=True) as client:
        try:
            watcher = Watcher(
                client, mode.watch, options, mode.template or DEFAULT_TEMPLATE,
                state=mode.state, workers=workers, on_result=display.echo,
                on_waiting=_waiting, progress=display.progress,
            )  # fmt: skip
        except RosBridgeError as exc:
            raise click.ClickException(str(exc)) from None
        stop = threading.Event()
        state = mode.state or mode.watch / STATE_FILE
        if not mode.once:
            click.echo(f"watching {mode.watch} (state in {state}); Ctrl-C stops", err=True)
        with watcher, stop_on_signals(stop, client):
            results = watcher.run(stop, once=mode.once, interval=mode.interval or 5.0)
    if mode.once and any(not r.ok for r in results):
        sys.exit(1)


def dry_run(mode: Mode, options: IngestOptions) -> None:
    """Print each recording's topics and adapters (and sequence name), or with --watch
    what the watcher would do with each recording; write nothing."""
    from mosaico.bridges.ros import plan
    from mosaico.bridges.ros.many import sequence_name
    from mosaico.bridges.ros.source import open_source

    if mode.watch is not None:
        from mosaico.bridges.ros.watch import DEFAULT_TEMPLATE, preview

        for path, status, detail in preview(
            mode.watch, mode.template or DEFAULT_TEMPLATE, mode.state
        ):
            click.echo(f"{status:<8} {path}  {detail}")
        return
    groups = [mode.files] if mode.template is None else [(f,) for f in mode.files]
    for files in groups:
        if mode.template is not None:
            click.echo(f"{files[0]} -> {sequence_name(mode.template, files[0])}")
        with open_source(files, msg=options.msg, typestore=options.typestore) as source:
            plans, skipped = plan(source, options.topics, options.adapters)
        indent = "  " if mode.template is not None else ""
        for p in plans:
            tag = p.adapter.topic_type.tag
            click.echo(f"{indent}{p.topic.name} -> {p.name}  [{p.topic.msgtype} as {tag}, "
                       f"{p.topic.count} msgs]")  # fmt: skip
        for line in skipped_lines(skipped, indent):
            click.echo(line, err=True)


def run(mode: Mode, options: IngestOptions, platform: PlatformTarget, dry: bool) -> None:
    """Check the arguments, then run the mode; bridge errors become clean CLI errors."""
    from mosaico.bridges.ros import RosBridgeError
    from mosaico.protocol.errors import ProtocolError

    mode.check()
    try:
        if dry:
            dry_run(mode, options)
        elif mode.watch is not None:
            run_watch(mode, options, platform)
        elif mode.template is not None:
            run_many(mode, options, platform)
        else:
            run_single(mode, options, platform)
    except (RosBridgeError, ProtocolError) as exc:
        raise click.ClickException(str(exc)) from None
