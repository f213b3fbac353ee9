"""URIs shown to users never carry credentials, however the user spelled them."""

from __future__ import annotations

import pytest

from airflow_provider_celonis.client.paths import path_id, redact_uri, redact_uris_in


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("s3://KEY:SECRET@bucket/a.jsonl", "s3://***@bucket/a.jsonl"),
        ("s3://KEY:ab@cd@bucket/x", "s3://***@bucket/x"),
        # AWS secret keys hold '/', '+': pasted unencoded, the secret must still not show
        ("s3://AKIAX:ab/cd+ef@bucket/x", "s3://***@bucket/x"),
        ("s3://AKIAX:a?b@bucket/x", "s3://***@bucket/x"),
        ("s3://AKIAX:a#b@bucket/x", "s3://***@bucket/x"),
        ("https://u:p@host/path?x=y@z", "https://***@host/path?x=y@z"),
        ("s3://bucket/key@v2", "s3://bucket/key@v2"),
        ("/data/audit/2025-11-01.jsonl", "/data/audit/2025-11-01.jsonl"),
        ("file:///data/a@b.jsonl", "file:///data/a@b.jsonl"),
    ],
)
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown


def test_redact_uris_in_a_message_keeps_the_rest() -> None:
    text = "could not write s3://AKIAX:ab/cd@bucket/x: denied; also s3://K:S@b/y"
    out = redact_uris_in(text)
    assert "ab/cd" not in out and ":S@" not in out
    assert out == "could not write s3://***@bucket/x: denied; also s3://***@b/y"


def test_path_id_is_one_segment() -> None:
    assert path_id("a/b?c#d") == "a%2Fb%3Fc%23d"
