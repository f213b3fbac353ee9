"""Review attacks on the one hook style (``Call`` sent by ``call``/``acall``/``call_response``).

- A 200 that is not JSON (a proxy or login page) may echo the request: the bearer token bare in
  a page, the client secret in a form it re-renders. The hook scrubbed the secrets it knows from
  error *statuses* only; the 200 path (``decode``, and every ``call_response`` reader) built its
  excerpt with a generic pattern that misses a bare secret.
- UI links (``job_url``, ``data_model_url``, ``pool_url``) put ids into URLs raw: a pool id
  ``a/b`` pointed at another page, a job id ``x&jobId=y`` at another job.
- ``reworded`` (a hook's ``explain``) rebuilt the error from the base fields only, dropping a
  429's ``reset_in`` and an unexpected answer's ``content_type``/``excerpt``.

Real sockets: a team server of the test's own is also its token endpoint.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import KNOWLEDGE_MODEL
from airflow_provider_celonis.client.calls import Call, reworded
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisError,
    CelonisRateLimitError,
    CelonisRequestMaybeSentError,
    CelonisUnexpectedResponseError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook
from airflow_provider_celonis.hooks.knowledge_model import CelonisKnowledgeModelHook
from airflow_provider_celonis.hooks.scim import CelonisScimHook
from tests.hooks.test_celonis_ids import CASES

TOKEN = "tok-ECHOED-0123456789abcdef"
SECRET = "pw-ECHOED-9876543210"


def _page_echoing_secrets(request: Received) -> tuple[int, dict[str, str], bytes]:
    if request.path.startswith("/oauth2/token"):
        body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 900})
        return 200, {"content-type": "application/json"}, body.encode()
    # a proxy's page that shows what it received, bare (no "Bearer " or "secret=" before it)
    page = f"<html><p>{TOKEN}</p><p>{SECRET}</p></html>"
    return 200, {"content-type": "text/html"}, page.encode()


def _team(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps({"conn_type": "celonis", "host": url, "login": "client", "password": SECRET}),
    )


def _everything(err: BaseException) -> str:
    return " ".join([str(err), repr(err), *(str(v) for v in vars(err).values())])


SECRET_ECHOES: dict[str, tuple[Callable[[Any], Any], type[CelonisError]]] = {
    # decode(): a GET, a write whose answer is read, a write answered by an HTML page
    "call.get": (lambda h: CelonisDataPushHook().get_job("p", "j"), CelonisUnexpectedResponseError),
    "call.create": (
        lambda h: CelonisDataPushHook().create_job("p", target_name="t"),
        CelonisRequestMaybeSentError,
    ),
    "call.delete": (lambda h: CelonisDataPushHook().delete_job("p", "j"), CelonisRequestMaybeSentError),
    "acall.get": (
        lambda h: asyncio.run(CelonisDataPushHook().aget_job("p", "j")),
        CelonisUnexpectedResponseError,
    ),
    "acall.delete": (
        lambda h: asyncio.run(CelonisDataPushHook().adelete_job("p", "j")),
        CelonisRequestMaybeSentError,
    ),
    # call_response readers (read_answer)
    "call_response.km": (
        lambda h: CelonisKnowledgeModelHook().get_knowledge_model("km"),
        CelonisUnexpectedResponseError,
    ),
    "call_response.scim": (lambda h: list(CelonisScimHook().iter_users()), CelonisUnexpectedResponseError),
}


@pytest.mark.parametrize("case", sorted(SECRET_ECHOES))
def test_a_200_page_echoing_the_token_and_secret_never_shows_them(monkeypatch, case) -> None:
    action, expected = SECRET_ECHOES[case]
    with recorder(_page_echoing_secrets) as team:
        _team(monkeypatch, team.url)
        with pytest.raises(expected) as info:
            action(None)
        assert any(r.path.startswith("/oauth2/token") for r in team.received)
    text = _everything(info.value)
    assert TOKEN not in text, text
    assert SECRET not in text, text
    assert "***" in text  # the excerpt is still there, scrubbed, not dropped


def test_call_response_scrubs_what_its_reader_raises(monkeypatch) -> None:
    """A hook's own reader inside ``call_response`` quoting the body gets it scrubbed too."""
    with recorder(_page_echoing_secrets) as team:
        _team(monkeypatch, team.url)
        hook = CelonisOAuthHook(max_attempts=1)
        call = Call(KNOWLEDGE_MODEL, "GET", "/api/knowledge-models/{km_id}", {"km_id": "k"})

        def read() -> None:
            with hook.call_response(call) as response:
                body = response.text
                raise CelonisUnexpectedResponseError(
                    f"not a page: {body}", status=200, method="GET", path=call.path, excerpt=body
                )

        with pytest.raises(CelonisUnexpectedResponseError) as info:
            read()
    text = _everything(info.value)
    assert TOKEN not in text and SECRET not in text, text


# -- UI links ------------------------------------------------------------------------------
HOSTILE_LINK_IDS = ["a/b", "x?jobId=other#frag", "x&jobId=other", "ü é+%2F"]


@pytest.fixture
def team_conn(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps(
            {"conn_type": "celonis", "host": "https://t.eu-1.celonis.cloud", "login": "c", "password": "s"}
        ),
    )


def _segments(url: str) -> list[str]:
    return [unquote(s) for s in urlsplit(url).path.split("/")]


@pytest.mark.parametrize("hostile", HOSTILE_LINK_IDS)
def test_job_url_keeps_each_id_in_its_place(team_conn, hostile) -> None:
    hook = CelonisDataJobHook()
    url = hook.job_url(hostile, "job-1")
    assert _segments(url)[4] == hostile and urlsplit(url).path.endswith("/data-configuration/data-jobs")
    assert parse_qs(urlsplit(url).query) == {"jobId": ["job-1"]} and not urlsplit(url).fragment
    url = hook.job_url("pool-1", hostile)
    assert _segments(url)[4] == "pool-1"
    assert parse_qs(urlsplit(url).query) == {"jobId": [hostile]} and not urlsplit(url).fragment


@pytest.mark.parametrize("hostile", HOSTILE_LINK_IDS)
def test_data_model_and_pool_urls_keep_each_id_in_one_segment(team_conn, hostile) -> None:
    url = CelonisDataModelHook().data_model_url(hostile, hostile)
    assert _segments(url) == ["", "integration", "ui", "pools", hostile, "data-models", hostile], url
    assert not urlsplit(url).query and not urlsplit(url).fragment
    url = CelonisDataPushHook().pool_url(hostile)
    assert _segments(url) == ["", "integration", "ui", "pools", hostile, "data-configuration"], url


@pytest.mark.parametrize("bad", ["..", ".", ""])
def test_a_link_to_a_dot_segment_id_is_refused(team_conn, bad) -> None:
    """A browser resolves ``..`` (also as ``%2E%2E``): the link would open the parent page."""
    with pytest.raises(CelonisConfigurationError, match="pool_id"):
        CelonisDataPushHook().pool_url(bad)
    with pytest.raises(CelonisConfigurationError, match="pool_id"):
        CelonisDataJobHook().job_url(bad, "j")


# -- explain() rewording ----------------------------------------------------------------------
def test_reworded_keeps_every_field_of_the_error() -> None:
    limited = CelonisRateLimitError(
        "slow down", status=429, method="GET", path="/p", reset_in=12.5, error_code="E", fix="wait"
    )
    again = reworded(limited, "the endpoint says slow down", "wait longer")
    assert type(again) is CelonisRateLimitError
    assert again.reset_in == 12.5 and again.status == 429 and again.error_code == "E"
    assert again.fix == "wait longer" and "the endpoint says slow down" in str(again)
    odd = CelonisUnexpectedResponseError(
        "odd", status=200, method="GET", path="/p", content_type="text/html", excerpt="<html>"
    )
    again_odd = reworded(odd, "odd for this endpoint", "report it")
    assert isinstance(again_odd, CelonisUnexpectedResponseError)
    assert (again_odd.content_type, again_odd.excerpt) == ("text/html", "<html>")
    assert limited.fix == "wait" and str(limited).split(" Fix:")[0] == "slow down"  # not mutated


# -- ids that are not one id ------------------------------------------------------------------
NOT_AN_ID: list[Any] = [None, True, ["job-1"], {"id": "job-1"}, ("a", "b")]


@pytest.mark.parametrize("bad", NOT_AN_ID, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("case", sorted(CASES))
def test_an_id_that_is_not_one_id_fails_before_any_request(case, bad, emulator, fast_retries) -> None:
    """``None`` (an XCom that came back empty) was sent as the id 'None', a list as "['job-1']":
    a 404 about an object nobody named, or a hit on an object really called 'None'."""
    hook_class, action, _route = CASES[case]
    before = len(emulator.recent_requests())
    with pytest.raises(CelonisConfigurationError):  # "not one id", or a hook's own "is empty"
        action(hook_class(**fast_retries), bad)
    assert [r for r in emulator.recent_requests()[before:] if "/oauth2/" not in r["path"]] == []


# -- call_response holds a connection: released however the block ends ------------------------
def _big(request: Received) -> tuple[int, dict[str, str], bytes]:
    if request.path.startswith("/oauth2/token"):
        body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 900})
        return 200, {"content-type": "application/json"}, body.encode()
    return 200, {"content-type": "application/json"}, b"[" + b"1," * 400_000 + b"1]"


@pytest.mark.parametrize("ending", ["error", "early-return", "generator-closed"])
def test_call_response_releases_a_streamed_answer_however_the_block_ends(monkeypatch, ending) -> None:
    held: list[Any] = []
    with recorder(_big) as team:
        _team(monkeypatch, team.url)
        hook = CelonisOAuthHook(max_attempts=1)
        call = Call(KNOWLEDGE_MODEL, "GET", "/api/big/{i}", {"i": "x"}, {"stream": True})

        def first_bytes() -> Any:
            with hook.call_response(call) as response:
                held.append(response)
                chunk = next(response.iter_content(1024))
                if ending == "error":
                    raise RuntimeError("the reader failed")
                yield chunk
                yield from response.iter_content(1024)

        pages = first_bytes()
        if ending == "error":
            with pytest.raises(RuntimeError):
                next(pages)
        elif ending == "early-return":
            assert next(pages).startswith(b"[1,")
            pages.close()  # the consumer stopped reading (e.g. it found what it wanted)
        else:
            next(pages)
            del pages  # dropped without close: CPython closes it at once
        [response] = held
        assert response.raw.closed, "the streamed answer still holds its connection"


# -- secrets a call carries that the hook does not know ---------------------------------------
WEBHOOK = "https://hooks.slack.example/services/T000/B000/WEBHOOKSECRET42"
HEADER_SECRET = "hdr-SECRET-value-77"


@pytest.mark.parametrize("method", ["create", "update"])
def test_an_error_echoing_a_subscriptions_callback_does_not_show_it(emulator, caplog, method) -> None:
    """A subscription's callback URI (a Slack or Teams webhook is itself a secret) and header
    values (an ``Authorization`` for the receiver) are in the request body; a 400 that repeats
    the body showed them in the error, which the hook's own scrub (client secret, tokens)
    did not cover."""
    from airflow_provider_celonis.hooks.event_subscriptions import CelonisEventSubscriptionHook

    route = (
        "/knowledge-models/km-order-to-cash/triggers/trg-late-orders/subscriptions$"
        if method == "create"
        else "/subscriptions/0b7e5a52-5c1a-4e55-9a1e-000000000001$"
    )
    emulator.add_faults([{"path": route, "kind": "echo", "status": 400, "times": 1}])
    hook = CelonisEventSubscriptionHook(max_attempts=1)
    options = {"name": "n", "callback_uri": WEBHOOK, "headers": {"Authorization": HEADER_SECRET}}
    send = {
        "create": lambda: hook.create_subscription("km-order-to-cash", "trg-late-orders", **options),
        "update": lambda: hook.update_subscription("0b7e5a52-5c1a-4e55-9a1e-000000000001", **options),
    }[method]
    with pytest.raises(CelonisError) as info:
        send()
    text = _everything(info.value) + repr(info.value.__cause__) + caplog.text
    assert "Rejected request" in text  # the echo reached the error...
    assert "WEBHOOKSECRET42" not in text and HEADER_SECRET not in text, text  # ...without the secrets


# -- a tool's answer is text as the server wrote it --------------------------------------------
@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/plain", "Zürich ☃".encode(), "Zürich ☃"),  # requests read text/* as Latin-1
        ("text/plain; charset=iso-8859-1", "Zürich".encode("latin-1"), "Zürich"),
        ("text/plain", json.dumps({"city": "Zürich"}, ensure_ascii=False).encode(), {"city": "Zürich"}),
        ("application/json", b"\xef\xbb\xbf" + json.dumps(["ü"]).encode(), ["ü"]),
    ],
)
def test_a_tool_answer_is_decoded_as_the_server_wrote_it(monkeypatch, content_type, body, expected) -> None:
    from airflow_provider_celonis.hooks.tools import CelonisToolsHook

    def reply(request: Received) -> tuple[int, dict[str, str], bytes]:
        if request.path.startswith("/oauth2/token"):
            return _page_echoing_secrets(request)
        return 200, {"content-type": content_type}, body

    with recorder(reply) as team:
        _team(monkeypatch, team.url)
        assert CelonisToolsHook(max_attempts=1).call_tool("asset", "tool", {}) == expected


# -- explain(): one message, one fix, same type, on both paths --------------------------------
@pytest.mark.parametrize(("status", "kind"), [(403, "CelonisPermissionError"), (404, "CelonisNotFoundError")])
def test_an_explained_error_keeps_its_type_and_says_one_fix(emulator, fast_retries, status, kind) -> None:
    """The rewording of an internal endpoint's 403/404 kept the generic fix inside the message
    and added its own: two contradicting "Fix:" in one error."""
    from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID

    emulator.add_faults([{"path": "/logs/", "method": "GET", "status": status, "times": -1}])
    hook = CelonisDataJobHook(**fast_retries)
    with pytest.raises(CelonisError) as sync:
        hook.list_executions(DEFAULT_POOL_ID, "job")
    with pytest.raises(CelonisError) as asyn:
        asyncio.run(CelonisDataJobHook(**fast_retries).alist_executions(DEFAULT_POOL_ID, "job"))
    for raised in (sync.value, asyn.value):
        assert type(raised).__name__ == kind and raised.status == status
        assert str(raised).count("Fix:") == 1 and "view and manage permission" in str(raised.fix)
        assert "internal Celonis endpoint" in str(raised)
    assert str(sync.value) == str(asyn.value)
