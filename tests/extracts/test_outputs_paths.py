"""Output paths: file://localhost is local, other hosts are refused, writability is proven
before the pull, outputs get the umask's permissions, credentials in URIs never shown."""

from __future__ import annotations

import os
import stat

import pytest

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.outputs import Columns, check_output_path, local_path, write_records


def test_file_localhost_is_the_local_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "out" / "x.jsonl"
    uri = f"file://localhost{target}"
    assert local_path(uri) == str(target)
    assert local_path(f"file://{target}") == str(target)
    check_output_path(uri)
    assert write_records(uri, "jsonl", ['{"a":1}\n'], Columns()) == 1
    assert target.read_text() == '{"a":1}\n'
    assert not (tmp_path / "localhost").exists()  # it once landed in ./localhost/...


def test_percent_encoded_file_uri_is_decoded(tmp_path) -> None:
    assert local_path(f"file://{tmp_path}/a%20b.jsonl") == f"{tmp_path}/a b.jsonl"


@pytest.mark.parametrize(
    "uri", ["file://fileserver/data/x.jsonl", "file://user:pw@fileserver/data/x.jsonl", "local://nas/x"]
)
def test_file_uri_to_another_host_is_refused(uri) -> None:
    with pytest.raises(CelonisConfigurationError) as info:
        check_output_path(uri)
    assert info.value.field == "output_path"
    assert "this machine" in str(info.value)
    assert "pw" not in str(info.value)


def test_credentials_in_an_output_uri_are_not_shown() -> None:
    with pytest.raises(CelonisConfigurationError) as info:
        check_output_path("nosuchfs://AKIAKEY:TOPSECRET@bucket/x.jsonl")
    assert "TOPSECRET" not in str(info.value) and "AKIAKEY" not in str(info.value)
    assert "nosuchfs://***@bucket/x.jsonl" in str(info.value)


def test_a_directory_that_passes_os_access_but_refuses_writes_is_caught() -> None:
    """/proc passes os.access(W_OK) for root, yet no file can be created there."""
    if not os.access("/proc", os.W_OK | os.X_OK):
        pytest.skip("needs a directory that os.access calls writable but is not (root and /proc)")
    with pytest.raises(CelonisConfigurationError, match="creating a file in /proc failed"):
        check_output_path("/proc/celonis-out/x.jsonl")


def test_read_only_directory_is_refused_before_the_pull(tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(CelonisConfigurationError, match="not writable"):
            check_output_path(str(locked / "x.jsonl"))
    except pytest.fail.Exception:
        if os.geteuid() == 0:
            pytest.skip("root writes into a 0500 directory")
        raise
    finally:
        locked.chmod(0o700)


def test_the_probe_leaves_nothing_behind(tmp_path) -> None:
    check_output_path(str(tmp_path / "x.jsonl"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_permissions_the_umask_gives(tmp_path, umask, mode) -> None:
    old = os.umask(umask)
    try:
        target = tmp_path / "x.jsonl"
        write_records(str(target), "jsonl", ['{"a":1}\n'], Columns())
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == mode
