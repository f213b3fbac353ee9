"""Review attacks on spill folders: a live run's folder must never be removed by another run,
and the spill root (a predictable name in a shared folder such as /tmp) must be our own.

Pids are only comparable within one machine and PID namespace: two containers sharing a
``spill_dir`` volume (or two hosts sharing a network folder) each have a pid 1, 7, 42... A run
judged "dead" by its pid in another namespace was alive, and its folder went from under it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.spill import SortedSpill, scratch_dir, spill_root

LIVE_CHILD = """
import sys, time
from airflow_provider_celonis.extracts.spill import SortedSpill, scratch_dir
with scratch_dir(sys.argv[1]) as scratch:
    spill = SortedSpill(scratch, run_size=10)
    for i in range(30):
        spill.add(str(i), '{"i": %d}' % i)
    print(scratch, flush=True)
    time.sleep(60)
"""


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=20, check=False
    )
    return probe.returncode == 0


def _live_run(spill_dir: Path, prefix: list[str]) -> tuple[subprocess.Popen[str], Path]:
    child = subprocess.Popen(
        [*prefix, sys.executable, "-c", LIVE_CHILD, str(spill_dir)], stdout=subprocess.PIPE, text=True
    )
    scratch = Path(child.stdout.readline().strip())  # type: ignore[union-attr]
    assert scratch.is_dir(), "the child did not start its run"
    return child, scratch


def _stop(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(10)


def test_a_live_run_in_another_process_keeps_its_folder(tmp_path) -> None:
    child, theirs = _live_run(tmp_path, [])
    try:
        with scratch_dir(str(tmp_path)):
            assert theirs.is_dir() and len(list(theirs.iterdir())) == 3
    finally:
        _stop(child)


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare --pid (a PID namespace, as a container has)")
def test_a_live_run_in_another_pid_namespace_keeps_its_folder(tmp_path) -> None:
    """As two containers sharing a spill_dir volume: the child is pid 1 of its own namespace."""
    child, theirs = _live_run(tmp_path, ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"])
    try:
        assert theirs.name.startswith("run-1-"), theirs.name
        with scratch_dir(str(tmp_path)):
            assert theirs.is_dir(), "another run removed a live run's folder"
            assert len(list(theirs.iterdir())) == 3
    finally:
        _stop(child)


def test_a_symlinked_spill_root_is_not_used(tmp_path) -> None:
    """Someone created the predictable root first, as a symlink to a folder they can read."""
    theirs = tmp_path / "someone-elses"
    theirs.mkdir(mode=0o777)
    spill_root(str(tmp_path)).symlink_to(theirs)
    with (
        pytest.raises(CelonisConfigurationError, match="spill_dir") as info,
        scratch_dir(str(tmp_path)) as mine,
    ):
        SortedSpill(mine, run_size=1).add("k", "{}")
    assert "remove" in str(info.value)
    assert list(theirs.iterdir()) == [], "records were spilled into a folder of someone else's choosing"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to hand a folder over"
)
def test_a_spill_root_owned_by_another_user_is_not_used(tmp_path) -> None:
    root = spill_root(str(tmp_path))
    root.mkdir(mode=0o777)
    os.chmod(root, 0o777)  # noqa: S103 - the loose folder under test
    os.chown(root, 65534, 65534)
    with pytest.raises(CelonisConfigurationError, match="spill_dir"), scratch_dir(str(tmp_path)):
        pass
    assert list(root.iterdir()) == []


def test_a_loose_spill_root_of_our_own_is_made_private(tmp_path) -> None:
    root = spill_root(str(tmp_path))
    root.mkdir()
    os.chmod(root, 0o777)  # noqa: S103 - the loose folder under test
    with scratch_dir(str(tmp_path)) as mine:
        assert Path(mine).parent == root
    assert root.stat().st_mode & 0o777 == 0o700
