"""Which outputs take the object-store write (final key written once) and which the local
temporary-file-and-rename. The S3 behaviour itself runs against a real S3 API (moto) in
tests_e2e/test_s3_outputs.py, where the e2e installs moto."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_celonis.extracts.object_store import is_object_store
from airflow_provider_celonis.extracts.outputs import atomic_output


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("s3://bucket/a.jsonl", True),
        ("s3://aws_default@bucket/a.jsonl", True),
        ("gs://bucket/a.jsonl", True),
        ("abfs://container/a.jsonl", True),
        ("S3://bucket/a.jsonl", True),
        ("/data/a.jsonl", False),
        ("relative/a.jsonl", False),
        ("file:///data/a.jsonl", False),
        ("local:///data/a.jsonl", False),
        ("FILE:///data/a.jsonl", False),
    ],
)
def test_is_object_store(path: str, expected: bool) -> None:
    assert is_object_store(path) is expected


def test_local_output_still_uses_a_temporary_file_and_rename(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    with atomic_output(str(target)) as out:
        out.write(b"{}\n")
        assert not target.exists()  # still the temporary file
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert target.read_bytes() == b"{}\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_local_output_that_fails_leaves_nothing(tmp_path: Path) -> None:
    def write_and_fail() -> None:
        with atomic_output(str(tmp_path / "out.jsonl")) as out:
            out.write(b"partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_and_fail()
    assert list(tmp_path.iterdir()) == []
