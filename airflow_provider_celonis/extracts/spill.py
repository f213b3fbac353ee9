"""Order and de-duplicate an unbounded stream of records with flat memory: sorted runs + k-way merge.

The usage APIs return pages in no documented order, and pages shift while events arrive, so
the same record can come twice. Holding a whole window in memory to sort it would make memory
grow with the window; instead records are buffered up to ``run_size``, sorted, written to a
run file, and the runs are merged with :func:`heapq.merge`. Identical records end up adjacent
and are written once.

Each spilled line is ``<sort key>\\t<canonical JSON>``: compact JSON never contains a raw tab,
and tab sorts below every printable character, so plain string order of whole lines is the
order by (key, record), which makes the output of a re-run byte-identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import os
import shutil
import socket
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder(order="sorted")

SPILL_ROOT_NAME = "celonis-spill"
"""Folder (per user) under ``spill_dir`` or the system temp folder that holds every run's scratch."""
_FALLBACK = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(record: Any) -> str:
    """The record's stable JSON form: sorted keys, compact, UTF-8 kept.

    The hottest call of a pull, so it uses msgspec (an Airflow 3 dependency, ~4x faster than
    :mod:`json`, same text for JSON-decoded data); values msgspec refuses (e.g. non-string
    keys in a hand-made record) fall back to :mod:`json`.
    """
    try:
        return _ENCODER.encode(record).decode()
    except (TypeError, OverflowError, msgspec.EncodeError):
        return _FALLBACK.encode(record)


class SortedSpill:
    """Collect ``(key, line)`` pairs; :meth:`merged` yields the unique lines in order.

    :param directory: an existing private directory for run files (removed by the caller).
    :param run_size: lines held in memory before a run is written.
    :param fan_in: most runs merged at once; beyond it, runs are merged in rounds.
    """

    def __init__(self, directory: str, *, run_size: int = 20_000, fan_in: int = 64) -> None:
        if run_size < 1 or fan_in < 2:
            raise ValueError("run_size must be >= 1 and fan_in >= 2")
        self.directory = directory
        self.run_size = run_size
        self.fan_in = fan_in
        self._buffer: list[str] = []
        self._runs: list[str] = []
        self._counter = 0
        self.added = 0

    def add(self, key: str, line: str) -> None:
        self._buffer.append(f"{key}\t{line}\n")
        self.added += 1
        if len(self._buffer) >= self.run_size:
            self._flush()

    def _new_run(self) -> str:
        self._counter += 1
        return os.path.join(self.directory, f"run-{self._counter:06d}.txt")

    def _flush(self) -> None:
        if not self._buffer:
            return
        self._buffer.sort()
        path = self._new_run()
        with open(path, "w", encoding="utf-8") as run:
            previous = None
            for line in self._buffer:
                if line != previous:
                    run.write(line)
                previous = line
        self._buffer = []
        self._runs.append(path)

    def _merge(self, paths: list[str]) -> Iterator[str]:
        """Unique spilled lines (key included) of ``paths``, in order."""
        with ExitStack() as stack:
            files = [stack.enter_context(open(p, encoding="utf-8", buffering=1 << 16)) for p in paths]
            previous = None
            for line in heapq.merge(*files):
                if line != previous:
                    yield line
                previous = line

    def merged(self) -> Iterator[str]:
        """The unique record lines (key stripped, newline kept) in (key, record) order."""
        if not self._runs:  # everything fits in memory: skip the files
            self._buffer.sort()
            lines: Iterator[str] = iter(self._buffer)
            previous = None
            for line in lines:
                if line != previous:
                    yield line[line.index("\t") + 1 :]
                previous = line
            self._buffer = []
            return
        self._flush()
        while len(self._runs) > self.fan_in:
            batch, self._runs = self._runs[: self.fan_in], self._runs[self.fan_in :]
            path = self._new_run()
            with open(path, "w", encoding="utf-8") as out:
                out.writelines(self._merge(batch))
            for done in batch:
                os.unlink(done)
            self._runs.append(path)
        for line in self._merge(self._runs):
            yield line[line.index("\t") + 1 :]


# -- where spill files live, and how a killed run's leftovers are found -------------------------
def _process_start(pid: int) -> str:
    """A token that changes when ``pid`` is reused: the start time in clock ticks (Linux), else ""."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not start or not _process_start(pid) or _process_start(pid) == start


def _node() -> str:
    """This machine and PID namespace, hashed: pids (and their start times) can only be checked
    within it. Containers sharing a ``spill_dir`` volume, or hosts sharing a network folder,
    each have their own pid 1, 7, 42..."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


def _make_private(root: Path) -> None:
    """Use ``root`` only if it is a real folder of this user that nobody else can write to.

    Its name is predictable and it usually sits in a shared folder such as /tmp: another user
    could create it first (or a symlink in its place) to read the records spilled there, or to
    swap a run's folder for one of their own.
    """
    info = os.lstat(root)
    uid = os.getuid() if hasattr(os, "getuid") else info.st_uid
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        # Imported here: the exceptions import Airflow, which spill files need not load.
        from airflow_provider_celonis.exceptions import CelonisConfigurationError

        raise CelonisConfigurationError(
            "spill_dir",
            f"holds {root}, which is not a private folder of this user (a symlink, not a folder, "
            f"or owned by uid {info.st_uid}), so spilled records could be read or swapped there",
            f"remove {root} (someone else may have made it), or set spill_dir to a folder of your own",
        )
    if info.st_mode & 0o077:
        os.chmod(root, 0o700)


def spill_root(spill_dir: str | None = None) -> Path:
    """``<spill_dir or system temp>/celonis-spill-<uid>``: one folder per user, so users sharing
    /tmp neither collide nor read each other's records."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(spill_dir or tempfile.gettempdir()) / f"{SPILL_ROOT_NAME}-{uid}"


def remove_stale(root: Path, *, max_age: float = 7 * 86400) -> list[str]:
    """Remove run folders of this machine and PID namespace whose process is gone (or whose pid
    now belongs to another process); folders whose owner cannot be checked here (another
    container or host sharing the folder, unknown entries) go after ``max_age`` seconds.
    Returns what was removed."""
    removed = []
    node = _node()
    with contextlib.suppress(FileNotFoundError):
        for entry in root.iterdir():
            parts = entry.name.split("-")
            stale = False
            ours = len(parts) == 5 and parts[3] == node
            older = len(parts) == 4  # named before the node was part of the name
            if (ours or older) and parts[0] == "run" and parts[1].isdigit():
                stale = not _alive(int(parts[1]), parts[2])
            else:
                with contextlib.suppress(OSError):
                    stale = time.time() - entry.stat().st_mtime > max_age
            if stale:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
    return removed


@contextlib.contextmanager
def scratch_dir(spill_dir: str | None = None) -> Iterator[str]:
    """A private folder for one run's spill files, removed when the block ends.

    It is ``<root>/run-<pid>-<process start>-<node>-<random>`` under :func:`spill_root`, where
    ``<node>`` names the machine and PID namespace. A run killed with SIGKILL cannot clean up,
    so every run first removes the folders of runs of its node whose process is gone:
    leftovers live at most until the next extract on the same worker, whatever the kill
    schedule, instead of forever in the system temp folder.
    """
    root = spill_root(spill_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _make_private(root)
    remove_stale(root)
    pid = os.getpid()
    start = _process_start(pid) or "0"
    path = root / f"run-{pid}-{start}-{_node()}-{uuid.uuid4().hex[:12]}"
    path.mkdir(mode=0o700)
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
