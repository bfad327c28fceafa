"""A fake OpenAI-compatible model server: real HTTP, scripted faults.

Used two ways: by the test suite (``FakeLLMServer`` on 127.0.0.1, a random port) and by hand
(``manage.py fake_llm --port 8100 --error-rate 0.2``). The collapse lab at ``/lab/v1`` answers
in the same protocol through ``parse_completion_request`` and ``completion``.

Faults come from two places: rates (latency, error rate, malformed rate), drawn per request, and a
script of the next responses (``fail_next``, ``malformed_next``, ``hang_next``, ``drip_next``),
for tests that need an exact sequence.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Words for replies: common ones, and a tail of rare ones, so the scored metrics have tails.
COMMON_WORDS = (
    "the a of and to in is was it for on with as that by this be are from at or an which "
    "one have not but they had his her their we can more all also some time year people new "
    "city river model data world water light small large early later good first last long way"
).split()
RARE_WORDS = (
    "estuary basalt cormorant juniper isthmus lacquer marzipan obsidian quorum saffron "
    "tamarind vellum zephyr alder bergamot cairn dulcimer fjord gossamer heron ibex kestrel "
    "loess mistral nacre oriel plinth quince rill sorrel tundra umber verjuice wold yarrow"
).split()
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]+")
# A reply's tokens, as usage counts them and max_tokens limits them: its runs of non-space.
REPLY_TOKEN = re.compile(r"\S+")


def fake_reply(prompt: str, rng: random.Random) -> str:
    """A short varied reply that reuses the prompt's words: plausible enough to be scored."""
    prompt_words = WORD_RE.findall(prompt)[:12] or ["nothing"]
    words = [rng.choice(prompt_words)]
    for _ in range(rng.randint(15, 40)):
        pool = rng.choices((COMMON_WORDS, prompt_words, RARE_WORDS), weights=(70, 20, 10))[0]
        words.append(rng.choice(pool))
    return " ".join(words).capitalize() + "."


@dataclass
class FakeResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Seconds between the body's bytes: a server that answers at once and never finishes.
    drip: float = 0.0


class NSupport(StrEnum):
    """What a server does with a request for ``n`` choices: OpenAI and vLLM give them, some
    servers answer with one choice whatever ``n`` says, some refuse the field."""

    HONOUR = "honour"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass
class FakeBehaviour:
    """How the fake answers. Rates are per request; the script overrides them in order."""

    latency: float = 0.0
    reply: Callable[[str, random.Random], str] = fake_reply
    error_rate: float = 0.0
    error_status: int = 500
    malformed_rate: float = 0.0
    seed: int | None = None
    n_support: NSupport = NSupport.HONOUR
    script: deque[FakeResponse] = field(default_factory=deque)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def fail_next(self, count: int, status: int = 500, retry_after: float | None = None) -> None:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        body = json.dumps({"error": {"message": f"scripted {status}"}}).encode()
        self.script.extend(FakeResponse(status, body, headers) for _ in range(count))

    def malformed_next(self, count: int, body: bytes = b"<html>502 Bad Gateway</html>") -> None:
        self.script.extend(FakeResponse(200, body) for _ in range(count))

    def hang_next(self, count: int, seconds: float) -> None:
        """Answer only after ``seconds``: longer than the client's timeout, this is a timeout."""
        self.script.extend(FakeResponse(-1, b"", delay=seconds) for _ in range(count))

    def drip_next(self, count: int, seconds_per_byte: float) -> None:
        """Send the headers at once, then a well-formed reply one byte at a time."""
        reply = completion_response("/chat/completions", b'{"messages": [{}]}', random.Random(0))
        self.script.extend(
            FakeResponse(200, reply.body, drip=seconds_per_byte) for _ in range(count)
        )

    def respond(self, path: str, raw_body: bytes) -> FakeResponse:
        with self._lock:
            self.requests += 1
            scripted = self.script.popleft() if self.script else None
            draw, reply_seed = self._rng.random(), self._rng.random()
        if scripted is not None:
            return scripted
        if draw < self.error_rate:
            body = json.dumps({"error": {"message": "injected failure"}}).encode()
            return FakeResponse(self.error_status, body, delay=self.latency)
        if draw < self.error_rate + self.malformed_rate:
            return FakeResponse(200, b'{"choices": [{"oops": true}]', delay=self.latency)
        response = completion_response(
            path, raw_body, random.Random(reply_seed), self.reply, self.n_support
        )
        response.delay = self.latency
        return response


class CompletionRequestError(Exception):
    """A request that gets no completion: the status and OpenAI-shaped error to answer with;
    ``param`` names the request field at fault, as OpenAI's errors do."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        error_type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
        self.response = FakeResponse(
            status,
            json.dumps(body).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


@dataclass(frozen=True)
class CompletionRequest:
    """A well-formed request: its path, its JSON body, the prompts to answer (one for chat; one
    or a list for legacy completions), how many choices each gets, and whether to stream."""

    path: str
    body: dict
    prompts: tuple[str, ...]
    n: int = 1
    stream: bool = False
    max_tokens: int | None = None

    @property
    def is_chat(self) -> bool:
        return self.path.endswith("/chat/completions")

    @property
    def choice_prompts(self) -> list[str]:
        """The prompt each choice answers, in the order of the choices' indices: the first
        prompt's n choices, then the next prompt's, as OpenAI orders them."""
        return [prompt for prompt in self.prompts for _ in range(self.n)]


def parse_completion_request(path: str, raw_body: bytes) -> CompletionRequest:
    """Read a chat or legacy completions request, or raise ``CompletionRequestError`` (400) for
    a body that is not one: not JSON, nested deeper than the parser goes, or of the wrong types."""
    try:
        body = json.loads(raw_body or b"{}")
    except (ValueError, RecursionError) as exc:
        raise CompletionRequestError(400, f"invalid JSON body: {exc}", "invalid_json") from exc
    if not isinstance(body, dict):
        raise CompletionRequestError(400, "the body must be a JSON object", "invalid_json")
    if not isinstance(body.get("model", ""), str):
        raise CompletionRequestError(400, "model must be a string", "invalid_type", param="model")
    if path.endswith("/chat/completions"):
        prompts = (_chat_prompt(body.get("messages")),)
    elif path.endswith("/completions"):
        prompts = _legacy_prompts(body.get("prompt", ""))
    else:
        raise CompletionRequestError(404, f"no route {path}", "unknown_url")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise CompletionRequestError(
            400, "n must be a whole number, 1 or more", "invalid_type", param="n"
        )
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise CompletionRequestError(
            400, "stream must be true or false", "invalid_type", param="stream"
        )
    return CompletionRequest(path, body, prompts, n, stream, _max_tokens(body))


def _max_tokens(body: dict) -> int | None:
    """The reply's length limit in tokens (words here), by its old name or its new one."""
    for param in ("max_completion_tokens", "max_tokens"):
        limit = body.get(param)
        if limit is None:
            continue
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise CompletionRequestError(
                400, f"{param} must be a whole number, 1 or more", "invalid_type", param=param
            )
        return limit
    return None


def _within_limit(text: str, max_tokens: int | None) -> tuple[str, str]:
    """The reply cut to ``max_tokens`` words, and its finish reason: "length" when cut."""
    word_ends = [token.end() for token in REPLY_TOKEN.finditer(text)]
    if max_tokens is None or len(word_ends) <= max_tokens:
        return text, "stop"
    return text[: word_ends[max_tokens - 1]], "length"


def _chat_prompt(messages: object) -> str:
    if not isinstance(messages, list) or not messages:
        raise CompletionRequestError(
            400, "messages must be a non-empty list", "invalid_type", param="messages"
        )
    last = messages[-1]
    prompt = last.get("content") if isinstance(last, dict) else None
    if not isinstance(prompt, str):
        raise CompletionRequestError(
            400, "the last message's content must be a string", "invalid_type", param="messages"
        )
    return prompt


def _legacy_prompts(prompt: object) -> tuple[str, ...]:
    """A legacy prompt: a string, or a non-empty list of strings, each answered in turn."""
    if isinstance(prompt, str):
        return (prompt,)
    if isinstance(prompt, list) and prompt and all(isinstance(item, str) for item in prompt):
        return tuple(prompt)
    raise CompletionRequestError(
        400,
        "prompt must be a string or a non-empty list of strings",
        "invalid_type",
        param="prompt",
    )


def completion(request: CompletionRequest, texts: list[str], rng: random.Random) -> FakeResponse:
    """The answer to ``request`` with one reply text a choice (``request.choice_prompts``
    order), as an OpenAI-compatible server gives it: one JSON body, or server-sent events."""
    replies = [_within_limit(text, request.max_tokens) for text in texts]
    texts = [text for text, _ in replies]
    if request.stream:
        return _streamed_completion(request, replies, rng)
    if request.is_chat:
        choices: list[dict] = [
            {
                "index": index,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
            for index, (text, finish) in enumerate(replies)
        ]
    else:
        choices = [
            {"index": index, "text": text, "logprobs": None, "finish_reason": finish}
            for index, (text, finish) in enumerate(replies)
        ]
    prompt_tokens = sum(len(prompt.split()) for prompt in request.prompts)
    completion_tokens = sum(len(text.split()) for text in texts)
    body = {
        **_envelope(request, rng, "chat.completion" if request.is_chat else "text_completion"),
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return FakeResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def _envelope(request: CompletionRequest, rng: random.Random, kind: str) -> dict:
    return {
        "id": f"fake-{rng.getrandbits(48):x}",
        "object": kind,
        "created": int(time.time()),
        "model": request.body.get("model", "fake"),
    }


# Where a streamed reply is cut into chunks: before each word that follows white space, so the
# chunks joined are the reply exactly.
CHUNK_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


def _streamed_completion(
    request: CompletionRequest, replies: list[tuple[str, str]], rng: random.Random
) -> FakeResponse:
    """Server-sent events in OpenAI's chunk shape, a word a chunk, each choice ended by a chunk
    with its finish reason, and the stream by ``data: [DONE]``."""
    envelope = _envelope(
        request, rng, "chat.completion.chunk" if request.is_chat else "text_completion"
    )
    events = []
    for index, (text, finish) in enumerate(replies):
        pieces = [piece for piece in CHUNK_BOUNDARY.split(text) if piece]
        if request.is_chat:
            deltas = [{"role": "assistant", "content": ""}]
            deltas += [{"content": piece} for piece in pieces]
            choices = [{"index": index, "delta": delta, "finish_reason": None} for delta in deltas]
            choices.append({"index": index, "delta": {}, "finish_reason": finish})
        else:
            choices = [
                {"index": index, "text": piece, "logprobs": None, "finish_reason": None}
                for piece in pieces
            ]
            choices.append({"index": index, "text": "", "logprobs": None, "finish_reason": finish})
        events += [json.dumps({**envelope, "choices": [choice]}) for choice in choices]
    body = "".join(f"data: {event}\n\n" for event in [*events, "[DONE]"])
    headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    return FakeResponse(200, body.encode(), headers)


def completion_response(
    path: str,
    raw_body: bytes,
    rng: random.Random,
    reply: Callable[[str, random.Random], str] = fake_reply,
    n_support: NSupport = NSupport.HONOUR,
) -> FakeResponse:
    """Answer a request as an OpenAI-compatible server would, each choice's text from
    ``reply(prompt, rng)``; ``n_support`` says what becomes of ``n`` (see ``NSupport``)."""
    try:
        request = parse_completion_request(path, raw_body)
        if request.n > 1 and n_support == NSupport.REJECT:
            raise CompletionRequestError(
                400, "n is not supported: ask for one choice", "unsupported_parameter", param="n"
            )
    except CompletionRequestError as error:
        return error.response
    if n_support == NSupport.IGNORE:
        request = dataclasses.replace(request, n=1)
    return completion(request, [reply(prompt, rng) for prompt in request.choice_prompts], rng)


class _Handler(BaseHTTPRequestHandler):
    server: _FakeHTTPServer
    protocol_version = "HTTP/1.1"
    # The headers and the body go out as two writes: with Nagle's algorithm on, the body waits
    # for the client's delayed acknowledgement of the headers, ~40 ms on every kept-alive request.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length)
        response = self.server.behaviour.respond(self.path, raw_body)
        if response.delay:
            time.sleep(response.delay)
        if response.status == -1:
            # A hang that outlived the client: it has gone, so there is no one to answer.
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in {"Content-Type": "application/json", **response.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        step = 1 if response.drip else max(1, len(response.body))
        for start in range(0, len(response.body), step):
            self.wfile.write(response.body[start : start + step])
            time.sleep(response.drip)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: FakeBehaviour
    verbose: bool = False

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout) closes its end: that is the point of a hang, not a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeLLMServer:
    """The fake on 127.0.0.1 in a background thread: ``with FakeLLMServer() as fake: fake.url``."""

    def __init__(
        self,
        behaviour: FakeBehaviour | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.behaviour = behaviour or FakeBehaviour()
        self._server = _FakeHTTPServer((host, port), _Handler)
        self._server.behaviour = self.behaviour
        self._server.verbose = verbose
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
