"""A model server's reply is untrusted: one deadline per call however slowly it comes, a size cap,
text that can be stored and shown, and errors that are short and name no credentials."""

import json
import time

import httpx

from monitor.clients.egress import EgressPolicy
from monitor.clients.openai_compatible import (
    ERROR_DETAIL_CHARS,
    Completion,
    CompletionFailure,
    OpenAICompatibleClient,
    RetryPolicy,
)
from monitor.fake_llm import FakeResponse


def client(url: str, **options) -> OpenAICompatibleClient:
    options = {"sleep": lambda seconds: None, **options}
    return OpenAICompatibleClient(
        base_url=url, model="m", egress_policy=EgressPolicy(allow_private=True), **options
    )


def test_a_dripping_reply_ends_at_the_deadline(fake_llm):
    # Each byte comes well within the read timeout: only a deadline over the whole reply ends it.
    fake_llm.behaviour.drip_next(1, seconds_per_byte=0.2)
    started = time.monotonic()
    with client(fake_llm.url, timeout=1.0, policy=RetryPolicy(max_attempts=1)) as slow:
        result = slow.complete("hi")
    assert time.monotonic() - started < 10
    assert isinstance(result, CompletionFailure) and result.kind == "timeout"


def test_retries_share_one_deadline(fake_llm):
    fake_llm.behaviour.drip_next(3, seconds_per_byte=0.2)
    started = time.monotonic()
    with client(fake_llm.url, timeout=1.0, total_timeout=1.5) as slow:
        result = slow.complete("hi")
    assert time.monotonic() - started < 10
    assert result.kind == "timeout" and result.attempts <= 2


def test_a_retry_after_past_the_deadline_is_not_waited_for(fake_llm):
    fake_llm.behaviour.fail_next(1, status=429, retry_after=30)
    waits = []
    with client(fake_llm.url, timeout=5.0, total_timeout=10.0, sleep=waits.append) as limited:
        result = limited.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "HTTP 429"
    assert "Retry-After 30s" in result.message and waits == []


def test_a_reply_over_the_size_cap_fails_without_retry(fake_llm):
    fake_llm.behaviour.reply = lambda prompt, rng: "x" * 5000
    with client(fake_llm.url, max_reply_bytes=4000) as capped:
        result = capped.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "reply too large"
    assert fake_llm.behaviour.requests == 1


def test_a_reply_of_undeclared_length_is_cut_at_the_cap():
    sent = []

    def endless():
        while True:
            sent.append(1)
            yield b"x" * 1024

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless()))
    with client("http://model.test/v1", max_reply_bytes=10_000, transport=transport) as capped:
        result = capped.complete("hi")
    assert result.kind == "reply too large" and len(sent) <= 11


def test_lone_surrogates_and_nul_come_back_replaced(fake_llm):
    fake_llm.behaviour.reply = lambda prompt, rng: "bad \ud800 and \x00 end"
    with client(fake_llm.url) as reading:
        result = reading.complete("hi")
    assert isinstance(result, Completion)
    assert result.text == "bad \ufffd and \ufffd end"
    result.text.encode("utf-8")


def test_deeply_nested_json_is_a_malformed_reply(fake_llm):
    fake_llm.behaviour.malformed_next(1, body=b"[" * 100_000 + b"]" * 100_000)
    with client(fake_llm.url) as reading:
        result = reading.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "malformed response"


def test_an_error_body_is_truncated_and_never_shows_the_api_key(fake_llm):
    echo = json.dumps({"error": "bad key sk-live-secret " + "x" * 10_000, "seen": "\ud800\x00"})
    fake_llm.behaviour.script.append(FakeResponse(401, echo.encode()))
    with client(fake_llm.url, api_key="sk-live-secret") as keyed:
        result = keyed.complete("hi")
    assert result.kind == "HTTP 401" and "sk-live-secret" not in result.message
    assert len(result.message) < len(fake_llm.url) + ERROR_DETAIL_CHARS + 50


def replying(*responses: httpx.Response) -> httpx.MockTransport:
    """A model server that answers with ``responses`` in turn, the last one from then on."""
    queue = list(responses)
    return httpx.MockTransport(lambda request: queue.pop(0) if len(queue) > 1 else queue[0])


def test_a_retry_after_of_digits_that_are_not_ascii_is_no_wait():
    # "²".isdigit() is true, and float("²") raises.
    busy = httpx.Response(429, headers=[(b"Retry-After", b"\xb2")], text="slow down")
    with client("http://model.test/v1", transport=replying(busy)) as reading:
        result = reading.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "HTTP 429"


def test_an_error_body_in_a_charset_that_is_no_text_encoding_is_read_as_utf8():
    broken = httpx.Response(
        500, headers={"Content-Type": "text/plain; charset=rot13"}, content=b"overloaded"
    )
    with client("http://model.test/v1", transport=replying(broken)) as reading:
        result = reading.complete("hi")
    assert isinstance(result, CompletionFailure) and "overloaded" in result.message


def test_token_counts_no_column_can_hold_are_no_counts():
    reply = {
        "choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10**30, "completion_tokens": True},
    }
    with client("http://model.test/v1", transport=replying(httpx.Response(200, json=reply))) as c:
        result = c.complete("hi")
    assert isinstance(result, Completion) and result.text == "fine"
    assert result.prompt_tokens is None and result.completion_tokens is None
