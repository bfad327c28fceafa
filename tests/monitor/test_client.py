"""The OpenAI-compatible client: parsing, retries, backoff, Retry-After and the retry budget."""

import json
import random
from datetime import UTC, datetime

import httpx
import pytest

from monitor.clients.openai_compatible import (
    Completion,
    CompletionFailure,
    OpenAICompatibleClient,
    RetryBudget,
    RetryPolicy,
    parse_retry_after,
)

CHAT_BODY = {
    "choices": [{"message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 2},
}


def scripted_client(responses, sleeps=None, **kwargs) -> tuple[OpenAICompatibleClient, list]:
    """A client whose transport answers from ``responses`` in order, recording each request."""
    requests = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    client = OpenAICompatibleClient(
        base_url="http://model.test/v1/",
        model="m",
        transport=httpx.MockTransport(handler),
        sleep=(sleeps.append if sleeps is not None else lambda seconds: None),
        seed=0,
        **kwargs,
    )
    return client, requests


def test_chat_completion_is_parsed_with_usage():
    client, requests = scripted_client([httpx.Response(200, json=CHAT_BODY)], temperature=0.7)
    result = client.complete("Capital of France?")
    assert isinstance(result, Completion)
    assert (result.text, result.finish_reason, result.attempts) == ("Paris.", "stop", 1)
    assert (result.prompt_tokens, result.completion_tokens) == (7, 2)
    sent = json.loads(requests[0].content)
    assert str(requests[0].url) == "http://model.test/v1/chat/completions"
    assert sent == {
        "model": "m",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "temperature": 0.7,
    }


def test_legacy_completion_sends_prompt_and_reads_text():
    body = {"choices": [{"text": " Paris", "finish_reason": "length"}]}
    client, requests = scripted_client(
        [httpx.Response(200, json=body)], provider_kind="completions", extra={"stop": ["\n"]}
    )
    result = client.complete("Capital of France:")
    assert result.text == " Paris" and result.prompt_tokens is None
    assert str(requests[0].url) == "http://model.test/v1/completions"
    sent = json.loads(requests[0].content)
    assert sent == {"model": "m", "prompt": "Capital of France:", "stop": ["\n"]}


def test_api_key_is_sent_as_bearer_token():
    client, requests = scripted_client([httpx.Response(200, json=CHAT_BODY)], api_key="sk-123")
    client.complete("hi")
    assert requests[0].headers["Authorization"] == "Bearer sk-123"


def test_429_waits_as_long_as_retry_after_says_then_succeeds():
    sleeps = []
    client, _ = scripted_client(
        [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=CHAT_BODY)],
        sleeps=sleeps,
    )
    result = client.complete("hi")
    assert isinstance(result, Completion) and result.attempts == 2
    assert len(sleeps) == 1 and 3.0 <= sleeps[0] <= 3.3


def test_500_is_retried_until_the_attempts_run_out():
    sleeps = []
    client, requests = scripted_client(
        [httpx.Response(500, text="boom")] * 3, sleeps=sleeps, policy=RetryPolicy(max_attempts=3)
    )
    result = client.complete("hi")
    assert isinstance(result, CompletionFailure)
    assert (result.kind, result.attempts, len(requests), len(sleeps)) == ("HTTP 500", 3, 3, 2)
    assert "boom" in result.message


def test_client_errors_are_not_retried():
    client, requests = scripted_client([httpx.Response(401, json={"error": "bad key"})])
    result = client.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "HTTP 401"
    assert len(requests) == 1 and not result.retryable


def test_timeout_is_retried():
    client, _ = scripted_client([httpx.ReadTimeout("slow"), httpx.Response(200, json=CHAT_BODY)])
    result = client.complete("hi")
    assert isinstance(result, Completion) and result.attempts == 2


def test_connection_refused_becomes_a_failure_after_retries():
    client, requests = scripted_client(
        [httpx.ConnectError("refused")] * 4, policy=RetryPolicy(max_attempts=4)
    )
    result = client.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "connection error"
    assert len(requests) == 4


@pytest.mark.parametrize(
    "response, expected",
    [
        (httpx.Response(200, text="<html>oops</html>"), "not JSON"),
        (httpx.Response(200, json={"choices": []}), "choices[0].message.content"),
        (httpx.Response(200, json={"choices": [{"message": {"content": 5}}]}), "not text"),
        (httpx.Response(200, json=["not", "an", "object"]), "choices[0].message.content"),
    ],
)
def test_malformed_bodies_fail_without_retry(response, expected):
    client, requests = scripted_client([response])
    result = client.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "malformed response"
    assert expected in result.message and len(requests) == 1


def test_a_retry_after_longer_than_we_wait_fails_at_once():
    client, requests = scripted_client([httpx.Response(503, headers={"Retry-After": "3600"})])
    result = client.complete("hi")
    assert isinstance(result, CompletionFailure) and "3600s" in result.message
    assert len(requests) == 1


def test_retry_budget_is_shared_and_caps_retries():
    budget = RetryBudget(retries=1)
    client, requests = scripted_client([httpx.Response(500)] * 4, budget=budget)
    assert isinstance(client.complete("a"), CompletionFailure)
    assert isinstance(client.complete("b"), CompletionFailure)
    # one retry for the first prompt, none left for the second
    assert len(requests) == 3


def test_backoff_is_full_jitter_below_the_exponential_cap():
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=4.0)
    rng = random.Random(1)
    for attempt in range(8):
        waits = [policy.backoff(attempt, None, rng) for _ in range(200)]
        bound = min(4.0, 0.5 * 2**attempt)
        assert all(0 <= wait <= bound for wait in waits)
        assert max(waits) > bound * 0.8  # spread over the whole range, not a fixed delay


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
