"""A fake OpenAI-compatible model server: real HTTP, scripted faults.

Used two ways: by the test suite (``FakeLLMServer`` on 127.0.0.1, a random port) and by hand
(``manage.py fake_llm --port 8100 --error-rate 0.2``). The collapse lab at ``/lab/v1`` answers
in the same protocol through ``parse_completion_request`` and ``completion``.

Faults come from two places: rates (latency, error rate, malformed rate), drawn per request, and a
script of the next responses (``fail_next``, ``malformed_next``, ``hang_next``, ``drip_next``),
for tests that need an exact sequence.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class FakeBehaviour:
    """How the fake answers. Rates are per request; the script overrides them in order."""

    latency: float = 0.0
    reply: Callable[[str, random.Random], str] = fake_reply
    error_rate: float = 0.0
    error_status: int = 500
    malformed_rate: float = 0.0
    seed: int | None = None
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
        response = completion_response(path, raw_body, random.Random(reply_seed), self.reply)
        response.delay = self.latency
        return response


class CompletionRequestError(Exception):
    """A request that gets no completion: the status and OpenAI-shaped error to answer with."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        error_type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        body = {"error": {"message": message, "type": error_type, "code": code}}
        self.response = FakeResponse(
            status,
            json.dumps(body).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


@dataclass(frozen=True)
class CompletionRequest:
    """A well-formed request: its path, its JSON body, and the prompt to answer."""

    path: str
    body: dict
    prompt: str


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
        raise CompletionRequestError(400, "model must be a string", "invalid_type")
    if path.endswith("/chat/completions"):
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise CompletionRequestError(400, "messages must be a non-empty list", "invalid_type")
        last = messages[-1]
        prompt = last.get("content") if isinstance(last, dict) else None
        if not isinstance(prompt, str):
            raise CompletionRequestError(
                400, "the last message's content must be a string", "invalid_type"
            )
    elif path.endswith("/completions"):
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise CompletionRequestError(400, "prompt must be a string", "invalid_type")
    else:
        raise CompletionRequestError(404, f"no route {path}", "unknown_url")
    return CompletionRequest(path, body, prompt)


def completion(request: CompletionRequest, text: str, rng: random.Random) -> FakeResponse:
    """The answer to ``request`` with the reply ``text``, as an OpenAI-compatible server gives
    it."""
    if request.path.endswith("/chat/completions"):
        choice: dict = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }
        kind = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "finish_reason": "stop"}
        kind = "text_completion"
    prompt_tokens, completion_tokens = len(request.prompt.split()), len(text.split())
    body = {
        "id": f"fake-{rng.getrandbits(48):x}",
        "object": kind,
        "created": int(time.time()),
        "model": request.body.get("model", "fake"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return FakeResponse(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def completion_response(
    path: str,
    raw_body: bytes,
    rng: random.Random,
    reply: Callable[[str, random.Random], str] = fake_reply,
) -> FakeResponse:
    """Answer a request as an OpenAI-compatible server would, the text from
    ``reply(prompt, rng)``."""
    try:
        request = parse_completion_request(path, raw_body)
    except CompletionRequestError as error:
        return error.response
    return completion(request, reply(request.prompt, rng), rng)


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
