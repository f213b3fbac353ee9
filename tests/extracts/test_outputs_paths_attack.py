"""Review attacks on output paths: file URI spellings that were written somewhere unexpected.

``file:/data/x`` (RFC 8089's short form) was taken for a relative path and written to
``./file:/data/x`` under the worker's working directory, as ``file://localhost/...`` once was;
``FILE:///...`` was refused as a storage without a filesystem; a ``?`` in a file URI silently
cut the name (``file:///data/report?.jsonl`` wrote ``/data/report``); ``%00`` raised a raw
``ValueError``. Each case runs check and write for real, in a scratch working directory.
"""

from __future__ import annotations

import pytest

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.outputs import Columns, check_output_path, local_path, write_records


def _write(path: str) -> None:
    check_output_path(path)
    write_records(path, "jsonl", iter(['{"a":1}\n']), Columns())


@pytest.mark.parametrize(
    "template",
    [
        "file:{dir}/out.jsonl",
        "FILE://{dir}/out.jsonl",
        "File://LOCALHOST{dir}/out.jsonl",
        "file:///{rel}/out.jsonl",
    ],
    ids=["short-form", "upper-case-scheme", "mixed-case", "triple-slash"],
)
def test_file_uri_spellings_write_to_the_path_they_name(tmp_path, monkeypatch, template) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    target = tmp_path / "data"
    target.mkdir()
    uri = template.format(dir=target, rel=str(target).lstrip("/"))
    _write(uri)
    assert local_path(uri) == str(target / "out.jsonl")
    assert (target / "out.jsonl").read_text() == '{"a":1}\n'
    assert list(cwd.iterdir()) == [], "something was written under the working directory"


@pytest.mark.parametrize(
    "template",
    [
        "file://{dir}/report?.jsonl",
        "file://{dir}/report.jsonl#part",
        "file://{dir}/a%00b.jsonl",
        "file:relative/x.jsonl",
    ],
    ids=["query", "fragment", "nul", "relative-short-form"],
)
def test_file_uris_that_cannot_name_a_file_plainly_are_refused(tmp_path, monkeypatch, template) -> None:
    monkeypatch.chdir(tmp_path)
    uri = template.format(dir=tmp_path)
    with pytest.raises(CelonisConfigurationError) as info:
        _write(uri)
    assert info.value.field == "output_path"
    assert [p.name for p in tmp_path.iterdir()] == [], "nothing may be written"


def test_a_percent_encoded_question_mark_is_part_of_the_name(tmp_path) -> None:
    _write(f"file://{tmp_path}/report%3F.jsonl")
    assert (tmp_path / "report?.jsonl").exists()
