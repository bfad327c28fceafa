"""The only code that speaks HTTP to models: the OpenAI-compatible completions protocol.

OpenAI, vLLM, Ollama, llama.cpp server, TGI and LiteLLM all serve ``POST {base}/chat/completions``
and most still serve the legacy ``POST {base}/completions``. Each call returns a ``Completion`` or
a ``CompletionFailure`` and never raises for a bad endpoint: the caller records either one.

Replies are untrusted: a call ends by its deadline however slowly the server answers, a reply
over ``max_reply_bytes`` is a failure, and text comes back free of lone surrogates and NULs
(neither can be stored or rendered) and of the API key. Where requests may go is
``egress.EgressPolicy``'s decision.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from django.conf import settings

from monitor.clients import egress

# A server that will not give several choices in one request says so with a validation error:
# 400 (OpenAI, vLLM) or 422 (TGI and other servers that validate the body with a schema).
N_REFUSED_STATUS = frozenset({"HTTP 400", "HTTP 422"})
# Worth another try: the server is overloaded, restarting or rate limiting us.
RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# A Retry-After longer than this (or than the call's time left) is not waited for: the sample
# fails and the run moves on.
MAX_RETRY_AFTER_SECONDS = 120.0
# How much of a failed request's body is read, and how much of it an error message quotes.
ERROR_BODY_BYTES = 4096
ERROR_DETAIL_CHARS = 300
# Neither a lone surrogate (not encodable as UTF-8) nor NUL (refused by PostgreSQL) can be stored.
UNSTORABLE_CHARACTERS = re.compile("[\ud800-\udfff\x00]")


def storable_text(text: str) -> str:
    """``text`` with every character that cannot be stored or rendered replaced by U+FFFD."""
    return UNSTORABLE_CHARACTERS.sub("\ufffd", text)


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int
    attempts: int


@dataclass(frozen=True)
class CompletionFailure:
    kind: str  # short and groupable, e.g. "HTTP 500", "timeout", "malformed response"
    message: str
    attempts: int
    latency_ms: int
    retryable: bool


class RetryBudget:
    """Caps the retries of a whole run, so a sick endpoint is not hammered by every sample."""

    def __init__(self, retries: int) -> None:
        self._left = retries
        self._lock = threading.Lock()

    @classmethod
    def for_requests(cls, requests: int) -> RetryBudget:
        # Enough for every request to retry when failures are rare, not when they are the rule.
        return cls(max(10, requests // 5))

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


class AttemptFailedError(Exception):
    """One request went wrong; ``complete`` decides whether to try again."""

    def __init__(
        self, kind: str, message: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 20.0

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before try ``attempt + 1``: the server's Retry-After when it gave one,
        otherwise exponential backoff with full jitter (uniform in [0, base·2^attempt])."""
        if retry_after is not None:
            return retry_after + rng.uniform(0, 0.1 * max(retry_after, 1.0))
        return rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() too, and float("²") raises
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class OpenAICompatibleClient:
    """Sends prompts to one endpoint.

    ``timeout`` bounds one try, connect to last byte; ``total_timeout`` (default: ``timeout`` for
    each of the policy's attempts) bounds a whole ``complete`` call, retries and waits included.
    ``transport`` replaces the network (tests): the egress policy then has nothing to guard.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        provider_kind: str = "chat",
        api_key: str = "",
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        extra: dict | None = None,
        timeout: float = 60.0,
        total_timeout: float | None = None,
        max_connections: int = 4,
        max_reply_bytes: int = 1_000_000,
        egress_policy: egress.EgressPolicy | None = None,
        policy: RetryPolicy | None = None,
        budget: RetryBudget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        seed: int | None = None,
        batch_samples: bool = False,
    ) -> None:
        if provider_kind not in {"chat", "completions"}:
            raise ValueError(f"unknown provider kind {provider_kind!r}")
        self.url = egress.request_url(
            base_url, "/chat/completions" if provider_kind == "chat" else "/completions"
        )
        self.model = model
        self.provider_kind = provider_kind
        self.params = {
            key: value
            for key, value in {
                "temperature": temperature,
                "top_p": top_p,
                "max_tokens": max_tokens,
            }.items()
            if value is not None
        }
        self.params.update(extra or {})
        self.policy = policy or RetryPolicy()
        self.budget = budget or RetryBudget(retries=1_000_000)
        self.timeout = timeout
        self.total_timeout = total_timeout or timeout * self.policy.max_attempts
        self.max_reply_bytes = max_reply_bytes
        self._api_key = api_key
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._batches_samples = batch_samples
        self._fallback_lock = threading.Lock()
        self.batch_fallback = ""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=max_connections)
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=transport
            or egress.GuardedTransport(egress_policy or egress.EgressPolicy(), limits),
        )

    @classmethod
    def from_request_params(
        cls, params: dict, api_key: str = "", **options: object
    ) -> OpenAICompatibleClient:
        """A client for an endpoint's frozen request settings (``Endpoint.request_params()``)
        under this deployment's egress policy and reply cap; ``options`` (timeout, policy,
        budget, …) override or add to them."""
        request_settings = {
            "base_url": params["base_url"],
            "model": params["model"],
            "provider_kind": params["provider_kind"],
            "temperature": params["temperature"],
            "top_p": params["top_p"],
            "max_tokens": params["max_tokens"],
            "extra": params["extra"],
            "timeout": params["timeout_seconds"],
            # Runs frozen before the setting existed asked for one sample a request.
            "batch_samples": params.get("batch_samples", False),
            "max_reply_bytes": settings.TAILWATCH_MAX_REPLY_BYTES,
            "egress_policy": egress.EgressPolicy.configured(),
        }
        return cls(api_key=api_key, **{**request_settings, **options})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OpenAICompatibleClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_body(self, prompt: str) -> dict:
        if self.provider_kind == "chat":
            body: dict = {"model": self.model, "messages": [{"role": "user", "content": prompt}]}
        else:
            body = {"model": self.model, "prompt": prompt}
        return {**body, **self.params}

    @property
    def batches_samples(self) -> bool:
        """Whether ``complete_samples`` still asks for several samples in one request."""
        return self._batches_samples

    def complete(self, prompt: str) -> Completion | CompletionFailure:
        """Send one prompt, retrying transient failures; never raises for a bad endpoint."""
        outcome = self._request(self.request_body(prompt), choices=1)
        return outcome if isinstance(outcome, CompletionFailure) else outcome.completions[0]

    def complete_samples(self, prompt: str, n: int) -> list[Completion | CompletionFailure]:
        """Up to ``n`` samples of ``prompt``: ``n`` choices of one request (OpenAI's ``n``) when
        the endpoint batches samples, one otherwise. A failed request is the outcome of every
        sample it asked for.

        A server that gives fewer usable choices than asked (none, or some that are not a
        completion), or refuses ``n`` (400, 422), gets fewer outcomes back: the usable choices
        only. From then on this client asks for one sample a request and says why in
        ``batch_fallback``; the caller asks again for the rest."""
        if n == 1 or not self._batches_samples:
            return [self.complete(prompt)]
        outcome = self._request({**self.request_body(prompt), "n": n}, choices=n)
        if isinstance(outcome, CompletionFailure):
            if outcome.kind in N_REFUSED_STATUS:
                self._stop_batching(f"the endpoint refused n={n} ({outcome.message})")
                return []
            return [outcome] * n
        if len(outcome.completions) < n:
            got = f"asked for {n} samples in one request (n), got {len(outcome.completions)}"
            self._stop_batching(got + (f" ({outcome.broken})" if outcome.broken else ""))
        return outcome.completions

    def _stop_batching(self, reason: str) -> None:
        with self._fallback_lock:
            if self._batches_samples:
                self._batches_samples = False
                self.batch_fallback = (
                    f"Sampled one request per sample: {reason[:ERROR_DETAIL_CHARS]}. Turn off "
                    "'batch samples' for this endpoint, or check that its server honours n."
                )

    def _request(self, body: dict, choices: int) -> Choices | CompletionFailure:
        """One request for up to ``choices`` choices, retrying transient failures."""
        started = time.monotonic()
        until = started + self.total_timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                replies, broken = self._attempt(body, until, choices)
            except AttemptFailedError as failure:
                wait, why_not = self._next_wait(failure, attempt, until)
                if why_not is not None:
                    return CompletionFailure(
                        kind=failure.kind,
                        message=failure.message + why_not,
                        attempts=attempt,
                        latency_ms=round((time.monotonic() - started) * 1000),
                        retryable=failure.retryable,
                    )
                self._sleep(wait)
            else:
                elapsed_ms = round((time.monotonic() - started) * 1000)
                completions = [
                    Completion(**fields, latency_ms=elapsed_ms, attempts=attempt)
                    for fields in replies
                ]
                return Choices(completions, broken)

    def _next_wait(
        self, failure: AttemptFailedError, attempt: int, until: float
    ) -> tuple[float, str | None]:
        """Seconds to wait before the next try, or why there is none (said after the error)."""
        if not failure.retryable or attempt >= self.policy.max_attempts:
            return 0.0, ""
        time_left = until - time.monotonic()
        retry_after = failure.retry_after
        if retry_after is not None and retry_after > min(MAX_RETRY_AFTER_SECONDS, time_left):
            return 0.0, f" (Retry-After {retry_after:.0f}s is longer than we wait)"
        wait = self.policy.backoff(attempt - 1, retry_after, self._rng)
        if wait >= time_left:
            return 0.0, " (no time left for another try)"
        if not self.budget.take():
            return 0.0, ""
        return wait, None

    def _attempt(self, body: dict, until: float, choices: int) -> tuple[list[dict], str]:
        """One request; what ``_parse`` makes of its reply, or AttemptFailedError saying what
        went wrong."""
        seconds = min(self.timeout, until - time.monotonic())
        try:
            with (
                egress.deadline(seconds),
                self._http.stream("POST", self.url, json=body) as response,
            ):
                content = self._read(response)
        except httpx.TimeoutException as exc:
            raise AttemptFailedError(
                "timeout", f"no complete answer within {seconds:.3g}s ({type(exc).__name__})"
            ) from exc
        except egress.EgressRefusedError as exc:
            raise AttemptFailedError("refused", str(exc), retryable=False) from exc
        except httpx.HTTPError as exc:
            raise AttemptFailedError(
                "connection error", f"{type(exc).__name__}: {self._untrusted(str(exc))}"
            ) from exc
        except httpx.InvalidURL as exc:
            raise AttemptFailedError("invalid URL", str(exc), retryable=False) from exc
        if response.status_code != 200:
            kind = f"HTTP {response.status_code}"
            detail = _decoded(content, response.encoding)
            detail = self._untrusted(detail)[:ERROR_DETAIL_CHARS].strip()
            raise AttemptFailedError(
                kind,
                f"{kind} from {self.url}" + (f": {detail}" if detail else ""),
                retryable=response.status_code in RETRYABLE_STATUS,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return self._parse(content, choices)

    def _read(self, response: httpx.Response) -> bytes:
        """The reply, or the start of an error's body; a reply over ``max_reply_bytes`` is a
        failure, found out without reading more than one chunk past the limit."""
        if response.status_code != 200:
            return egress.read_up_to(response, ERROR_BODY_BYTES)[:ERROR_BODY_BYTES]
        limit = self.max_reply_bytes
        declared = response.headers.get("Content-Length", "")
        if not (declared.isdigit() and int(declared) > limit):
            content = egress.read_up_to(response, limit)
            if len(content) <= limit:
                return content
        raise AttemptFailedError(
            "reply too large",
            f"the reply is over the {limit:,}-byte limit (TAILWATCH_MAX_REPLY_BYTES)",
            retryable=False,
        )

    def _untrusted(self, text: str) -> str:
        """Text from the server, safe to store and show: storable, and without our API key
        or the credentials of any URL in it."""
        text = storable_text(egress.redact_url(text))
        return text.replace(self._api_key, "[API key]") if self._api_key else text

    def _preview(self, content: bytes) -> str:
        return self._untrusted(content[:200].decode("utf-8", errors="replace"))

    def _parse(self, content: bytes, choices: int) -> tuple[list[dict], str]:
        """The fields of each usable choice among the reply's first ``choices``, and what is
        wrong with the first broken one ("" if none is).

        Asked for one choice, a reply without a usable one is a failure; asked for several, a
        reply with fewer usable ones is not: the caller asks again for the missing samples."""
        # A garbled body is usually a broken proxy or server bug, not a passing hiccup: no retry.
        try:
            payload = json.loads(content)
        except (ValueError, RecursionError) as exc:
            raise AttemptFailedError(
                "malformed response",
                f"response is not JSON: {self._preview(content)!r}",
                retryable=False,
            ) from exc
        if not isinstance(payload, dict):
            payload = {}  # no choices
        replies = payload.get("choices")
        if not isinstance(replies, list) or not replies:
            replies = [None]  # reported as a missing choices[0]
        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
        counts = {
            "prompt_tokens": _count(usage.get("prompt_tokens")),
            # Usage counts a request's completion tokens over all its choices: one choice's
            # count is known only when there is one.
            "completion_tokens": _count(usage.get("completion_tokens"))
            if len(replies) == 1
            else None,
        }
        if choices == 1:
            return [{**self._choice(replies[0], 0, content), **counts}], ""
        usable, problems = [], []
        for index, choice in enumerate(replies[:choices]):
            try:
                usable.append({**self._choice(choice, index, content), **counts})
            except AttemptFailedError as broken:
                problems.append(broken.message)
        return usable, (problems[0] if problems else "")

    def _choice(self, choice: object, index: int, content: bytes) -> dict:
        """The text and finish reason of choice ``index``."""
        field = f"choices[{index}]." + (
            "message.content" if self.provider_kind == "chat" else "text"
        )
        try:
            text = choice["message"]["content"] if self.provider_kind == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError) as exc:
            raise AttemptFailedError(
                "malformed response",
                f"response has no {field}: {self._preview(content)}",
                retryable=False,
            ) from exc
        if not isinstance(text, str):
            raise AttemptFailedError(
                "malformed response", f"{field} is {type(text).__name__}, not text", retryable=False
            )
        return {
            "text": self._untrusted(text),
            "finish_reason": self._untrusted(str(choice.get("finish_reason") or "")),
        }


@dataclass(frozen=True)
class Choices:
    """The usable choices of one reply, and what is wrong with its first broken one."""

    completions: list[Completion]
    broken: str


def _decoded(content: bytes, encoding: str | None) -> str:
    """An error body as text, in the charset the server names when that is a text encoding:
    Python also knows "rot13", "hex" or "zlib", which are no charsets and raise on bytes."""
    try:
        return content.decode(encoding or "utf-8", errors="replace")
    except (LookupError, TypeError, ValueError):
        return content.decode("utf-8", errors="replace")


# Token counts are stored in integer columns; a server's claim beyond them is not a count.
MAX_TOKEN_COUNT = 2**31 - 1


def _count(value: object) -> int | None:
    is_count = isinstance(value, int) and not isinstance(value, bool)
    return value if is_count and 0 <= value <= MAX_TOKEN_COUNT else None
