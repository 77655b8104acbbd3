"""Watching a folder: each recording that lands in it is ingested once it is complete.

What is a recording (the folder is searched at any depth; names starting with `.` are
ignored):

- a rosbag2 folder (it holds `metadata.yaml`);
- a folder holding `.mcap` or `.db3` files named like a rosbag2 bag's, `DIR/DIR_N.mcap`
  or `DIR/DIR.db3`, even without `metadata.yaml` yet: a rosbag2 recording going on;
- any other `.mcap` or `.db3` file, and a ROS 1 `.bag` file.

When it is complete (`incomplete` says why not):

- a rosbag2 folder once `metadata.yaml` is written (rosbag2 writes it when it closes the
  bag) and every file it lists is there and complete;
- an MCAP file once it ends with its footer and closing magic;
- a ROS 1 bag once its header points at the index written on close (`rosbag record`
  writes `NAME.bag.active` and renames it; rosbags leaves the index position 0 until then);
- an sqlite3 `.db3` file once no `-wal` or `-journal` file is next to it and it is as long
  as its header says.

A watcher running on (`Watcher.run` without `once`) also waits until a recording has not
changed (size and modification time of each of its files) between two scans.

What was ingested is kept in a state file (`STATE_FILE` in the folder unless another path
is given), updated before and after each ingest (see `WatchState`: fsynced appends, and an
atomic rewrite when a watcher starts; a crash loses at most a half-written last line): a
recording is identified by its path in the folder, and its size and modification time,
so a watcher restarted later ingests nothing twice; a recording replaced by another (its
size or time changed) is new. A failed recording is not tried again until it changes. A
recording whose ingest was cut short (the watcher was killed) is tried again when its
sequence does not exist, and reported failed when it does (delete the sequence to retry);
so is one whose ingest lost the connection to the platform.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs
from ruamel.yaml import YAML  # rosbags' own YAML library, a dependency of rosbags
from ruamel.yaml.error import YAMLError

from mosaico.bridges.ros.errors import RosBridgeError
from mosaico.bridges.ros.many import (
    IngestOptions,
    Job,
    JobResult,
    ManyProgress,
    check_template,
    ingest_many,
    name_conflicts,
    sequence_name,
)
from mosaico.client import MosaicoClient

STATE_FILE = ".mosaico-watch.jsonl"
DEFAULT_TEMPLATE = "{path}"
_MCAP_MAGIC = b"\x89MCAP0\r\n"
_MCAP_FOOTER = 1 + 8 + 20  # opcode, record length, summary start/offset start/crc
_BAG_MAGIC = b"#ROSBAG V2.0\n"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_FILE_KINDS = (".bag", ".mcap", ".db3")

Signature = list[list[Any]]  # [relative file path, size, mtime ns] of each file


def _mcap_incomplete(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            head = f.read(len(_MCAP_MAGIC))
            size = f.seek(0, os.SEEK_END)
            f.seek(max(size - len(_MCAP_MAGIC) - _MCAP_FOOTER, 0))
            tail = f.read()
    except OSError as exc:
        return f"cannot read it: {exc}"
    if len(head) < len(_MCAP_MAGIC):
        return "too short for an MCAP file (still being written?)"
    if head != _MCAP_MAGIC:
        return None  # not an MCAP file at all: ingest says so
    if size < 2 * len(_MCAP_MAGIC) + _MCAP_FOOTER:
        return "too short for an MCAP file with its footer (still being written?)"
    opcode, length = struct.unpack_from("<BQ", tail)
    if tail[-len(_MCAP_MAGIC) :] != _MCAP_MAGIC or opcode != 0x02 or length != 20:
        return "no MCAP footer yet (still being written?)"
    return None


def _bag_index_pos(f: IO[bytes]) -> int | None:
    """The `index_pos` field of a ROS 1 bag's header record (after the magic line)."""
    (header_len,) = struct.unpack("<I", f.read(4))
    header = f.read(min(header_len, 4096))
    pos = 0
    while pos + 4 <= len(header):
        (field_len,) = struct.unpack_from("<I", header, pos)
        name, _, value = header[pos + 4 : pos + 4 + field_len].partition(b"=")
        if name == b"index_pos" and len(value) == 8:
            return int(struct.unpack("<Q", value)[0])
        pos += 4 + field_len
    return None


def _bag_incomplete(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            if f.read(len(_BAG_MAGIC)) != _BAG_MAGIC:
                return None  # not a ROS 1 v2.0 bag: ingest says so
            index_pos = _bag_index_pos(f)
            size = f.seek(0, os.SEEK_END)
    except (OSError, struct.error) as exc:
        return f"cannot read its header yet: {exc}"
    if not index_pos:
        return "its index is not written yet (still being recorded?)"
    if index_pos >= size:
        return "its index lies beyond the end of the file (still being copied?)"
    return None


def _db3_incomplete(path: Path) -> str | None:
    for suffix in ("-wal", "-journal"):
        if path.with_name(path.name + suffix).exists():
            return f"{path.name}{suffix} is next to it (still being written?)"
    try:
        with path.open("rb") as f:
            header = f.read(100)
            size = f.seek(0, os.SEEK_END)
    except OSError as exc:
        return f"cannot read it: {exc}"
    if not header.startswith(_SQLITE_MAGIC):
        return "too short for an sqlite3 file" if len(header) < 100 else None
    # The database size in the header is valid when its change counters agree.
    (page_size,) = struct.unpack_from(">H", header, 16)
    changes, pages = struct.unpack_from(">II", header, 24)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    if changes == valid_for and size < (page_size if page_size != 1 else 65536) * pages:
        return "shorter than its header says (still being copied?)"
    return None


def _listed_files(path: Path) -> list[str] | str:
    """The files rosbag2's metadata.yaml lists, or why it cannot be read yet."""
    try:
        meta = YAML(typ="safe").load((path / "metadata.yaml").read_text())
        return [str(p) for p in meta["rosbag2_bagfile_information"]["relative_file_paths"]]
    except (OSError, YAMLError, KeyError, TypeError) as exc:
        return f"metadata.yaml does not read yet ({type(exc).__name__})"


def _folder_incomplete(path: Path) -> str | None:
    if not (path / "metadata.yaml").is_file():
        return "no metadata.yaml yet (still being recorded?)"
    listed = _listed_files(path)
    if isinstance(listed, str):
        return listed
    for name in listed:
        file = path / Path(name).name
        if not file.is_file():
            return f"{file.name}, listed in metadata.yaml, is not there yet"
        reason = _file_incomplete(file) if file.suffix in (".mcap", ".db3") else None
        if reason is not None:
            return f"{file.name}: {reason}"
    return None


def _file_incomplete(path: Path) -> str | None:
    check = {".mcap": _mcap_incomplete, ".bag": _bag_incomplete, ".db3": _db3_incomplete}
    return check[path.suffix](path)


def incomplete(path: Path) -> str | None:
    """Why the recording at `path` is not complete yet; None when it is (see the module)."""
    if path.is_dir():
        return _folder_incomplete(path)
    return _file_incomplete(path)


def _is_split_part(path: Path) -> bool:
    """A `DIR/DIR_N.ext` or `DIR/DIR.ext` file: rosbag2's naming of a bag's files."""
    stem, _, index = path.stem.rpartition("_")
    return path.stem == path.parent.name or (stem == path.parent.name and index.isdigit())


def _entries(folder: Path, visited: set[Path]) -> list[Path]:
    """The visible entries of a folder not seen yet (links may lead back); none when it
    vanished or cannot be read meanwhile (a later scan sees it)."""
    try:
        real = folder.resolve()
        if real in visited:
            return []
        visited.add(real)
        return [e for e in sorted(folder.iterdir()) if not e.name.startswith(".")]
    except OSError:
        return []


def recordings_in(folder: Path) -> list[Path]:
    """Every recording under `folder` (complete or not), sorted by path.

    A folder holding files named like a rosbag2 bag's (see the module) is one recording,
    even before its `metadata.yaml` is written.
    """
    found: set[Path] = set()
    todo = [folder]
    visited: set[Path] = set()
    while todo:
        current = todo.pop()
        for entry in _entries(current, visited):
            if entry.is_dir():
                (found.add if (entry / "metadata.yaml").is_file() else todo.append)(entry)
            elif entry.suffix in (".mcap", ".db3") and _is_split_part(entry):
                found.add(current)  # a rosbag2 bag still being recorded
            elif entry.suffix in _FILE_KINDS:
                found.add(entry)
    return sorted(found)


def signature(path: Path, root: Path) -> Signature:
    """What identifies the recording's content: each file's relative path, size, mtime."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out = []
    for file in files:
        st = file.stat()
        out.append([str(file.relative_to(root)), st.st_size, st.st_mtime_ns])
    return out


_STATE_HEADER = {"mosaico_watch_state": 1}


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """The entries of a state file (see `WatchState`); none when there is no file.

    A last line without its newline is an append cut short by a crash: it is left out.

    Raises:
        RosBridgeError: the file does not read as a state file.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RosBridgeError(f"{path}: cannot read the watch state: {exc}") from None
    *lines, _torn = data.split(b"\n")
    entries: dict[str, dict[str, Any]] = {}
    try:
        if not lines or json.loads(lines[0]) != _STATE_HEADER:
            raise ValueError("no state header")
        for line in lines[1:]:
            record = json.loads(line)
            key, entry = str(record["key"]), record["entry"]
            if entry is None:
                entries.pop(key, None)
            else:
                entries[key] = dict(entry)
    except (ValueError, KeyError, TypeError) as exc:
        raise RosBridgeError(f"{path}: not a watch state file ({exc})") from None
    return entries


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WatchState:
    """The state file: for each recording (its path in the folder) the signature it had,
    its sequence, and `status` `running`, `ingested` or `failed` (with `error`).

    JSON lines: a header, then one line per change, appended and fsynced before the
    watcher goes on (so its cost does not grow with the number of recordings); opening
    rewrites it atomically (temp file, fsync, rename) with one line per recording. An
    exclusive lock on `PATH.lock` keeps a second watcher of the same state away.

    Raises:
        RosBridgeError: the file is not a state file, cannot be written, or another
            watcher holds the lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._lock_file = open(path.with_name(path.name + ".lock"), "a")  # noqa: SIM115
        except OSError as exc:
            raise RosBridgeError(f"{path}: cannot keep the watch state there: {exc}") from None
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            raise RosBridgeError(f"another watcher is using {path}") from None
        try:
            self.entries = read_state(path)
            self._compact()
            self._log = open(path, "ab")  # noqa: SIM115 - appended to until `close`
        except (RosBridgeError, OSError) as exc:
            self._lock_file.close()
            if isinstance(exc, RosBridgeError):
                raise
            raise RosBridgeError(f"cannot write the watch state {path}: {exc}") from None

    def _compact(self) -> None:
        """Rewrite the file with one line per entry: a temp file, fsynced, renamed."""
        lines = [_STATE_HEADER, *({"key": k, "entry": v} for k, v in self.entries.items())]
        text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)

    def put(self, key: str, **entry: Any) -> None:
        """Set the entry of `key` and append it to the file."""
        self.entries[key] = entry
        self._append(key, entry)

    def drop(self, key: str) -> None:
        """Forget `key` (a recording that was not attempted after all)."""
        if self.entries.pop(key, None) is not None:
            self._append(key, None)

    def _append(self, key: str, entry: dict[str, Any] | None) -> None:
        line = json.dumps({"key": key, "entry": entry}, sort_keys=True) + "\n"
        try:
            self._log.write(line.encode())
            self._log.flush()
            os.fsync(self._log.fileno())
        except OSError as exc:  # without its state the watcher could ingest twice: stop
            raise RosBridgeError(f"cannot write the watch state {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the file and release the lock."""
        self._log.close()
        self._lock_file.close()


def preview(
    folder: Path, template: str = DEFAULT_TEMPLATE, state: Path | None = None
) -> list[tuple[Path, str, str]]:
    """What a watcher of `folder` would do now, changing nothing: for each recording,
    `done` (with its recorded status and sequence), `waiting` (with why) or `ready`
    (with the sequence name it would get, or why it cannot be named).

    Raises:
        RosBridgeError: a bad template, or a state file that does not read.
    """
    check_template(template)
    entries = read_state(state or folder / STATE_FILE)
    out = []
    for rec in recordings_in(folder):
        entry = entries.get(str(rec.relative_to(folder)))
        if entry is not None and entry.get("signature") == signature(rec, folder):
            out.append((rec, "done", f"{entry.get('status')} -> {entry.get('sequence')}"))
        elif (reason := incomplete(rec)) is not None:
            out.append((rec, "waiting", reason))
        else:
            try:
                out.append((rec, "ready", "-> " + sequence_name(template, rec, folder)))
            except RosBridgeError as exc:
                out.append((rec, "ready", str(exc)))
    return out


@attrs.define
class _Candidate:
    key: str
    path: Path
    signature: Signature


class Watcher:
    """Ingests the recordings that land in `folder` (see the module for the rules).

    Args:
        client: an open client; each recording becomes a new sequence through it.
        folder: the folder to watch (it must exist).
        options: the ingest options every recording gets.
        template: the sequence name of a recording (`many.PLACEHOLDERS`; default
            `{path}`, its path in the folder).
        state: the state file; default `folder/.mosaico-watch.jsonl`.
        workers: at most this many ingests at once.
        on_result: called with each `JobResult` as it comes in.
        on_waiting: called with a recording that is not complete yet and why (once per
            reason).
        progress: makes the `ManyProgress` of each scan's ingests (None: no progress).

    Raises:
        RosBridgeError: `folder` is not a folder or is a rosbag2 recording, a bad
            template, or the state file is unusable (see `WatchState`).

    >>> with MosaicoClient.local("store") as client:
    ...     Watcher(client, Path("/data/bags"), IngestOptions()).run(once=True)
    """

    def __init__(
        self,
        client: MosaicoClient,
        folder: Path,
        options: IngestOptions,
        template: str = DEFAULT_TEMPLATE,
        *,
        state: Path | None = None,
        workers: int = 1,
        on_result: Callable[[JobResult], None] | None = None,
        on_waiting: Callable[[Path, str], None] | None = None,
        progress: Callable[[int], ManyProgress] | None = None,
    ) -> None:
        if not folder.is_dir():
            raise RosBridgeError(f"{folder}: not a folder (given to watch)")
        if (folder / "metadata.yaml").is_file():
            raise RosBridgeError(
                f"{folder} is a rosbag2 recording itself; watch the folder it lands in"
            )
        check_template(template)
        self.client, self.folder, self.options = client, folder, options
        self.template, self.workers = template, workers
        self.on_result, self.progress = on_result, progress
        self.state = WatchState(state or folder / STATE_FILE)
        self._seen: dict[str, Signature] = {}  # the last scan's signatures
        self._waiting: dict[str, str] = {}  # incomplete recordings: the reason last told
        self.on_waiting = on_waiting

    def close(self) -> None:
        """Release the state file."""
        self.state.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ready(self, settle: bool) -> Iterator[_Candidate]:
        """The recordings to ingest now: complete, new or changed, settled if asked."""
        seen, self._seen = self._seen, {}
        for path in recordings_in(self.folder):
            key = str(path.relative_to(self.folder))
            try:
                sig = signature(path, self.folder)
            except OSError:
                continue  # changing under us: the next scan sees it
            self._seen[key] = sig
            if self._done(key, sig):
                continue
            reason = incomplete(path)
            if reason is not None:
                self._wait(key, path, reason)
            elif not settle or seen.get(key) == sig:
                self._waiting.pop(key, None)
                yield _Candidate(key, path, sig)

    def _wait(self, key: str, path: Path, reason: str) -> None:
        """Tell `on_waiting` why `path` waits, once per reason."""
        if self._waiting.get(key) != reason:
            self._waiting[key] = reason
            if self.on_waiting is not None:
                self.on_waiting(path, reason)

    def _done(self, key: str, sig: Signature) -> bool:
        """`key` with this signature was handled already (ingested, failed, or cut short
        with its sequence made)."""
        entry = self.state.entries.get(key)
        if entry is None or entry.get("signature") != sig:
            return False
        return entry.get("status") != "running" or self._still_running(key, entry)

    def _still_running(self, key: str, entry: dict[str, Any]) -> bool:
        """An earlier run was cut short while ingesting `key`: retry only when its sequence
        was not created; otherwise record it failed (True: nothing to do)."""
        sequence = entry.get("sequence", "")
        if not self.client.sequence_exists(sequence):
            return False
        error = (
            f"an earlier ingest of it was cut short; its sequence {sequence!r} exists and "
            "may be partial (delete it to ingest the recording again)"
        )
        self.state.put(key, **{**entry, "status": "failed", "error": error})
        if self.on_result is not None:
            self.on_result(JobResult(Job((self.folder / key,), sequence), None, error, 0.0))
        return True

    def poll(self, settle: bool = False, stop: threading.Event | None = None) -> list[JobResult]:
        """Scan once and ingest what is ready; the results (also given to `on_result`)."""
        ready = list(self._ready(settle))
        if not ready:
            return []
        by_job: dict[Job, _Candidate] = {}
        results: list[JobResult] = []
        for cand in ready:
            try:
                job = Job((cand.path,), sequence_name(self.template, cand.path, self.folder))
            except RosBridgeError as exc:
                failed = JobResult(Job((cand.path,), ""), None, str(exc), 0.0)
                results.append(self._record(cand, failed))
                continue
            by_job[job] = cand
        conflicts = name_conflicts(list(by_job), self.client.list_sequences())
        for job, why in conflicts.items():
            results.append(self._record(by_job.pop(job), JobResult(job, None, why, 0.0)))
        for job, cand in by_job.items():
            self.state.put(cand.key, signature=cand.signature, sequence=job.sequence,
                           status="running")  # fmt: skip
        bar = self.progress(len(by_job)) if self.progress and by_job else None
        try:
            done = ingest_many(
                self.client, list(by_job), self.options, workers=self.workers,
                progress=bar, stop=stop,
                on_result=lambda r: results.append(self._record(by_job[r.job], r)),
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.close()
        for job in set(by_job) - {r.job for r in done}:  # never started: not attempted
            self.state.drop(by_job[job].key)
        return results

    def _record(self, cand: _Candidate, result: JobResult) -> JobResult:
        if not result.ok and (self.client.closed or result.transient):
            # Aborted (the client was closed under it) or the platform was lost: it stays
            # `running`, so a later scan or watcher ingests it again, or reports it when
            # its sequence was made.
            if self.on_result is not None:
                self.on_result(result)
            return result
        status = "ingested" if result.ok else "failed"
        self.state.put(
            cand.key, signature=cand.signature, sequence=result.job.sequence, status=status,
            error=result.error, time=time.time(),
        )  # fmt: skip
        if self.on_result is not None:
            self.on_result(result)
        return result

    def run(
        self, stop: threading.Event | None = None, *, once: bool = False, interval: float = 5.0
    ) -> list[JobResult]:
        """Scan every `interval` seconds and ingest what is ready, until `stop` is set;
        with `once`, scan once (complete recordings need not have settled) and return.

        While the platform cannot be reached (`on_waiting` says so once) scans go on, and
        recordings whose ingest lost the connection are tried again. Returns every result
        of the run.

        Raises:
            ConnectionError: with `once`, the platform cannot be reached.
        """
        stop = stop or threading.Event()
        results = self.poll(settle=False, stop=stop) if once else []
        while not once and not stop.is_set():
            try:
                results += self.poll(settle=True, stop=stop)
            except ConnectionError as exc:  # the platform is away: try again next scan
                self._wait("", self.folder, f"the platform is unavailable ({exc}); retrying")
            else:
                self._waiting.pop("", None)
            stop.wait(interval)
        return results
