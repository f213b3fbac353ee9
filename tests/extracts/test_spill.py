"""Leftovers: a SIGKILLed run's spill folder is found and removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from airflow_provider_celonis.extracts.spill import SortedSpill, remove_stale, scratch_dir, spill_root

CHILD = """
import sys, time
from airflow_provider_celonis.extracts.spill import SortedSpill, scratch_dir
with scratch_dir(sys.argv[1]) as scratch:
    spill = SortedSpill(scratch, run_size=10)
    for i in range(100):
        spill.add(str(i), '{"i": %d}' % i)
    print(scratch, flush=True)
    time.sleep(60)
"""


def _killed_run(spill_dir: Path) -> Path:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(spill_dir)], stdout=subprocess.PIPE, text=True)
    try:
        scratch = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
        assert scratch.is_dir() and len(list(scratch.iterdir())) == 10
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    return scratch


def test_the_next_run_removes_a_killed_runs_leftovers(tmp_path) -> None:
    leftover = _killed_run(tmp_path)
    assert leftover.is_dir(), "SIGKILL leaves the folder (no cleanup can run)"
    assert leftover.parent == spill_root(str(tmp_path))
    with scratch_dir(str(tmp_path)) as mine:
        assert not leftover.exists()
        assert Path(mine).is_dir()
    assert not Path(mine).exists()
    assert list(spill_root(str(tmp_path)).iterdir()) == []


def test_a_live_runs_folder_is_kept(tmp_path) -> None:
    with scratch_dir(str(tmp_path)) as first, scratch_dir(str(tmp_path)) as second:
        assert Path(first).is_dir() and Path(second).is_dir()  # the second did not remove the first


def test_a_reused_pid_does_not_keep_a_dead_runs_folder(tmp_path) -> None:
    """Same pid, other start time: the folder belonged to a process that is gone."""
    root = spill_root(str(tmp_path))
    root.mkdir(parents=True)
    dead = root / f"run-{os.getpid()}-1-abcdef"
    dead.mkdir()
    assert remove_stale(root) == [dead.name]


def test_unknown_entries_go_only_when_old(tmp_path) -> None:
    root = spill_root(str(tmp_path))
    (root / "something").mkdir(parents=True)
    assert remove_stale(root) == []
    old = 10 * 86400
    os.utime(root / "something", (os.path.getmtime(root) - old,) * 2)
    assert remove_stale(root) == ["something"]


def test_spill_root_is_private_per_user(tmp_path) -> None:
    with scratch_dir(str(tmp_path)) as scratch:
        SortedSpill(scratch)
        assert oct(os.stat(scratch).st_mode & 0o777) == "0o700"
    assert spill_root(str(tmp_path)).name == f"celonis-spill-{os.getuid()}"
