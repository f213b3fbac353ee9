"""``Call.path`` and ``decode``: pure, no network. What reaches the wire is tested over sockets in
tests/hooks/test_celonis_ids.py."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
import requests

from airflow_provider_celonis.client.apis import DATA_JOBS
from airflow_provider_celonis.client.calls import Call, decode, segment, unexpected_answer
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisRequestMaybeSentError,
    CelonisUnexpectedResponseError,
)

JOB = "/api/pools/{pool_id}/jobs/{job_id}"


def path(job_id: str, method: str = "GET") -> str:
    return Call(DATA_JOBS, method, JOB, {"pool_id": "p", "job_id": job_id}).path


@pytest.mark.parametrize(
    ("ident", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("a?b=1", "a%3Fb%3D1"),
        ("a#frag", "a%23frag"),
        ("ä ü/€", "%C3%A4%20%C3%BC%2F%E2%82%AC"),
        ("100%", "100%25"),
        ("a..b", "a..b"),  # not a dot segment: dots inside an id are harmless
        ("0f5c1e9a-3b7d", "0f5c1e9a-3b7d"),
    ],
)
def test_every_id_is_one_encoded_segment(ident: str, encoded: str) -> None:
    assert path(ident) == f"/api/pools/p/jobs/{encoded}"
    assert unquote(encoded) == ident  # the server gets the id back whole


@pytest.mark.parametrize("ident", ["a/b", "../..", "x?y#z", "ü/..", "%2F"])
def test_a_path_built_from_any_id_keeps_its_shape(ident: str) -> None:
    """What requests would send: still four segments after the pool, no query, no fragment,
    and no dot segment for the client to resolve."""
    sent = requests.Request("GET", "https://team.example.com" + path(ident)).prepare().path_url
    assert sent.split("/")[:5] == ["", "api", "pools", "p", "jobs"] and len(sent.split("/")) == 6
    assert "?" not in sent and "#" not in sent


@pytest.mark.parametrize("ident", ["..", ".", "", "   "])
def test_dot_segment_or_blank_id_is_refused(ident: str) -> None:
    with pytest.raises(CelonisConfigurationError, match=r"job_id.*another endpoint"):
        path(ident)


@pytest.mark.parametrize("dots", ["..", "%2E%2E", "%2e%2e"])
def test_why_dot_ids_are_refused_rather_than_encoded(dots: str) -> None:
    """requests resolves a dot segment, also a percent-encoded one, before sending; aiohttp too."""
    import yarl

    url = f"https://team.example.com/api/pools/p/jobs/{dots}/cancel"
    sent = requests.Request("POST", url).prepare().path_url
    assert sent in ("/api/pools/p/cancel", "/api/pools/p/jobs/../cancel")
    assert yarl.URL(url).path == "/api/pools/p/cancel"


def test_numbers_are_ids_too() -> None:
    assert segment("job_id", 42) == "42"


def test_a_get_must_answer_json() -> None:
    call = Call(DATA_JOBS, "GET", JOB, {"pool_id": "p", "job_id": "j"})
    assert decode(call, '{"a": 1}', "application/json") == {"a": 1}
    assert decode(call, "  ", None) is None
    with pytest.raises(CelonisUnexpectedResponseError, match="not JSON") as caught:
        decode(call, "<html>login</html>", "text/html")
    assert caught.value.path == "/api/pools/p/jobs/j"


def test_a_write_whose_answer_is_not_read_ignores_it_unless_it_is_html() -> None:
    call = Call(DATA_JOBS, "POST", JOB, {"pool_id": "p", "job_id": "j"})
    assert decode(call, "not json at all", "text/plain") is None
    with pytest.raises(CelonisRequestMaybeSentError, match="HTML"):
        decode(call, "<html>proxy</html>", "text/html; charset=utf-8")


def test_a_write_whose_answer_is_read_and_not_json_may_have_acted() -> None:
    """A create that answers 200 with a broken body may have created: the caller reads back."""
    call = Call(DATA_JOBS, "POST", JOB, {"pool_id": "p", "job_id": "j"}, reads_answer=True)
    assert decode(call, '{"id": "new"}', "application/json") == {"id": "new"}
    with pytest.raises(CelonisRequestMaybeSentError, match="Whether Celonis acted is unknown"):
        decode(call, '{"id": "ne', "application/json")


def test_unexpected_answer_names_the_api_the_problem_and_the_first_bytes() -> None:
    err = unexpected_answer(
        "Data Push API", "GET", "/x", "has no list", {"a": "b" * 500}, "It stops guessing"
    )
    assert "Data Push API" in str(err) and "has no list" in str(err) and "failing closed" in str(err)
    assert err.excerpt and len(err.excerpt) < len(json.dumps({"a": "b" * 500}))
