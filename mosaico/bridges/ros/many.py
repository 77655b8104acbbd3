"""Many recordings, each its own sequence: names from a template, a bounded pool of
ingests running at once, one progress line, and one result per recording.

`mosaico ingest a.bag b.mcap c/ --sequence-template '{stem}'` and `mosaico ingest --watch`
are built on this. The ingests share one client and run on threads: reading a recording
and uploading it overlap across recordings (the Flight transport and the server work
outside Python's lock), so a few at once keep a small machine busy.
"""

from __future__ import annotations

import string
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TextIO

import attrs

from mosaico.bridges.ros.client_sink import ClientSequence
from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.ingest import IngestReport, ingest
from mosaico.bridges.ros.progress import Progress
from mosaico.client import MosaicoClient
from mosaico.client.policies import SessionLevelErrorPolicy
from mosaico.protocol.errors import InvalidArgument
from mosaico.protocol.names import normalize_sequence_name

PLACEHOLDERS = {
    "stem": "the file or folder name without its suffix (run_01.mcap -> run_01)",
    "name": "the file or folder name, suffix included (run_01.mcap -> run_01_mcap)",
    "parent": "the name of the folder holding it",
    "ext": "the suffix without the dot: bag, mcap, db3; empty for a rosbag2 folder",
    "path": "its path (relative to the watched folder) without suffix, '/' as '-'",
}
_ALLOWED = set(string.ascii_letters + string.digits + "_-")
DEFAULT_WORKERS = 2


@attrs.frozen
class IngestOptions:
    """What every recording's ingest gets: see `ingest` and `ClientSequence`."""

    topics: tuple[str, ...] = ()
    adapters: Mapping[str, str] = attrs.Factory(dict)
    msg: tuple[Path, ...] = ()
    typestore: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = attrs.Factory(dict)
    on_error: SessionLevelErrorPolicy = SessionLevelErrorPolicy.Report
    validate: bool = False


@attrs.frozen
class Job:
    """One recording (`paths`: one file or folder, or split ROS 1 bags) into `sequence`."""

    paths: tuple[Path, ...]
    sequence: str

    @property
    def label(self) -> str:
        """The recording as people name it: its path, or the first of its bags and a count."""
        extra = f" (+{len(self.paths) - 1} bags)" if len(self.paths) > 1 else ""
        return f"{self.paths[0]}{extra}"


@attrs.frozen
class JobResult:
    """How one recording went: `report` when it ingested, `error` when it did not;
    `transient` when it failed for want of the platform (a lost connection), not for
    anything in the recording."""

    job: Job
    report: IngestReport | None
    error: str | None
    seconds: float
    transient: bool = False

    @property
    def ok(self) -> bool:
        """It ingested (some topics may still be listed in `report.skipped`)."""
        return self.error is None


def _clean(text: str) -> str:
    return "".join(c if c in _ALLOWED else "_" for c in text)


def check_template(template: str) -> None:
    """Raise `RosBridgeError` when `template` uses an unknown or a formatted placeholder."""
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template)]
    except ValueError as exc:
        raise RosBridgeError(f"sequence template {template!r}: {exc}") from None
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    used = [f for f, _, _ in fields if f is not None]
    for field, spec, conv in fields:
        if field is not None and (field not in PLACEHOLDERS or spec or conv):
            raise RosBridgeError(
                f"sequence template {template!r}: unknown placeholder {{{field}}}; use {known}"
            )
    if not used:
        raise RosBridgeError(
            f"sequence template {template!r} has no placeholder, so every recording would "
            f"get the same name; use {known}"
        )


def sequence_name(template: str, path: Path, root: Path | None = None) -> str:
    """The sequence name `template` gives the recording at `path` (see `PLACEHOLDERS`).

    Each placeholder's value has the characters a sequence name cannot hold replaced by
    `_`; `{path}` is relative to `root` when given.

    Raises:
        RosBridgeError: a bad template, or a result that is not a valid sequence name.

    >>> sequence_name("{parent}-{stem}", Path("/data/day1/run_01.mcap"))
    'day1-run_01'
    """
    check_template(template)
    full = path.resolve()
    if root is not None:
        rel = full.relative_to(root.resolve())
    else:
        rel = Path(*path.parts[1:]) if path.is_absolute() else path
    values = {
        "stem": path.stem if path.is_file() else path.name,
        "name": path.name,
        "parent": full.parent.name,
        "ext": path.suffix.lstrip(".") if path.is_file() else "",
        "path": "-".join(rel.with_suffix("").parts if path.is_file() else rel.parts),
    }
    name = template.format(**{k: _clean(v) for k, v in values.items()})
    try:
        return normalize_sequence_name(name)
    except InvalidArgument as exc:
        raise RosBridgeError(f"{path}: template {template!r} gives {exc}") from None


def name_conflicts(jobs: Sequence[Job], existing: Iterable[str]) -> dict[Job, str]:
    """The jobs whose sequence name is taken, by an existing sequence or an earlier job."""
    taken = set(existing)
    first: dict[str, Job] = {}
    out = {}
    for job in jobs:
        if job.sequence in taken:
            out[job] = f"sequence {job.sequence!r} already exists"
        elif job.sequence in first:
            out[job] = (
                f"sequence name {job.sequence!r} is also given to {first[job.sequence].label}"
            )
        else:
            first[job.sequence] = job
    return out


def plan_jobs(
    paths: Sequence[Path], template: str, existing: Iterable[str], root: Path | None = None
) -> list[Job]:
    """One job per recording, named by `template`; every name problem raised at once.

    Raises:
        RosBridgeError: a bad template, or names that repeat or already exist (each named
            with its recordings).
    """
    jobs = [Job((p,), sequence_name(template, p, root)) for p in paths]
    conflicts = name_conflicts(jobs, existing)
    if conflicts:
        lines = "\n".join(f"  {job.label}: {why}" for job, why in conflicts.items())
        raise RosBridgeError(
            f"sequence template {template!r} cannot name these recordings:\n{lines}\n"
            "change the template (e.g. '{parent}-{stem}' or '{path}') or remove the "
            "existing sequences"
        )
    return jobs


class ManyProgress:
    """One progress line for several ingests at once: recordings done, messages, MB/s.

    `child()` gives the `Progress` one ingest updates; `note` prints a line (on `out`)
    above the progress line. Safe to use from several threads.
    """

    def __init__(
        self,
        recordings: int | None,
        enabled: bool = True,
        stream: TextIO | None = None,
        out: TextIO | None = None,
    ) -> None:
        self._bar = Progress(None, stream=stream, enabled=enabled)
        self._out = out
        self._lock = threading.Lock()
        self.recordings = recordings
        self.done = 0
        self._relabel()

    def _relabel(self) -> None:
        of = f"/{self.recordings}" if self.recordings is not None else ""
        self._bar.label = f"{self.done}{of} recordings  "

    def child(self) -> Progress:
        """A `Progress` for one ingest; its counts add to this line."""
        return _Share(self)

    def add(self, messages: int, nbytes: int) -> None:
        """Count `messages` of `nbytes` read by one of the ingests."""
        with self._lock:
            self._bar.update(messages, nbytes)

    def finished(self) -> None:
        """One more recording is done."""
        with self._lock:
            self.done += 1
            self._relabel()
            self._bar.update(0, 0)

    def note(self, text: str) -> None:
        """Print `text` as a line of its own, above the progress line."""
        with self._lock:
            if self._bar.enabled:
                self._bar.stream.write("\r\x1b[K")
                self._bar.stream.flush()
            out = self._out if self._out is not None else sys.stdout
            out.write(text + "\n")
            out.flush()

    def close(self) -> None:
        """End the progress line."""
        with self._lock:
            self._bar.close()


class _Share(Progress):
    """The `Progress` of one ingest among several: counts go to the shared line."""

    def __init__(self, shared: ManyProgress) -> None:
        super().__init__(None, enabled=False)
        self._shared = shared

    def update(self, messages: int, nbytes: int) -> None:
        """Count here and on the shared line."""
        super().update(messages, nbytes)
        self._shared.add(messages, nbytes)

    def close(self) -> None:
        """The shared line stays: `ManyProgress.close` ends it."""


def ingest_job(
    client: MosaicoClient, job: Job, options: IngestOptions, progress: Progress | bool = False
) -> JobResult:
    """Ingest one recording into a new sequence; any failure is returned, never raised."""
    start = time.monotonic()
    try:
        sink = ClientSequence(
            client, job.sequence, dict(options.metadata), options.on_error, options.validate
        )
        report = ingest(
            job.paths, sink, topics=options.topics, adapters=options.adapters,
            msg=options.msg, typestore=options.typestore, progress=progress,
        )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - one recording's failure must not stop the others
        seconds = time.monotonic() - start
        return JobResult(job, None, _describe(exc), seconds, transient=is_transient(exc))
    return JobResult(job, report, None, time.monotonic() - start)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, RosBridgeError) else f"{type(exc).__name__}: {text}"


def is_transient(exc: BaseException) -> bool:
    """`exc`, or an exception it was raised from, is a lost connection (`Unavailable`,
    any `ConnectionError`): worth trying again later."""
    seen: BaseException | None = exc
    for _ in range(16):  # a cause chain is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def ingest_many(
    client: MosaicoClient,
    jobs: Sequence[Job],
    options: IngestOptions,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: ManyProgress | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    stop: threading.Event | None = None,
) -> list[JobResult]:
    """Ingest every job, at most `workers` at once; the results in the order they end.

    A failed recording is a result with `error`; the others go on. Once `stop` is set no
    job starts any more: the running ones finish, the others are left out of the results.
    `on_result` is called (on this thread) as each result comes in.

    Raises:
        RosBridgeError: `workers` is below 1.

    >>> with MosaicoClient.local("store") as client:
    ...     jobs = plan_jobs([Path("a.bag"), Path("b.mcap")], "{stem}", client.list_sequences())
    ...     results = ingest_many(client, jobs, IngestOptions(), workers=2)
    """
    if workers < 1:
        raise RosBridgeError(f"workers must be at least 1, got {workers}")
    stop = stop or threading.Event()
    results: list[JobResult] = []
    with ThreadPoolExecutor(min(workers, max(len(jobs), 1)), "ros-ingest") as pool:
        pending: set[Future[JobResult]] = {
            pool.submit(_run, client, job, options, progress) for job in jobs
        }
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled():
                    continue
                results.append(future.result())
                if on_result is not None:
                    on_result(results[-1])
            if stop.is_set():
                for future in pending:
                    future.cancel()
    return results


def _run(
    client: MosaicoClient, job: Job, options: IngestOptions, progress: ManyProgress | None
) -> JobResult:
    result = ingest_job(client, job, options, progress.child() if progress else False)
    if progress is not None:
        progress.finished()
    return result
