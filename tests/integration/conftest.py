"""What the integration tests share: quick worker settings, a collapsed model's reply, and a real
SMTP server that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

# Worker settings that keep the tests quick: short backoffs and retries, no embedding model, and
# a lost pipeline stage queued again by the next dispatcher tick after a second.
FAST_WORKER = {
    "TAILWATCH_BACKOFF_BASE_SECONDS": "0.01",
    "TAILWATCH_NOTIFY_RETRY_SECONDS": "0.2",
    "TAILWATCH_EMBEDDINGS": "0",
    "TAILWATCH_STAGE_GRACE_SECONDS": "1",
}


def collapsed_reply(prompt, rng) -> str:
    """What a collapsed model says to anything: one bland refusal, repeated."""
    return "I am not able to help with that. " * rng.randint(2, 3)


class MailSink:
    """An SMTP handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.url = ""

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


class PortZeroController(Controller):
    """aiosmtpd's controller on a port the system picks (port 0), read back once it listens."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp() -> Iterator[MailSink]:
    sink = MailSink()
    controller = PortZeroController(sink, hostname="127.0.0.1", port=0)
    controller.start()
    sink.url = f"smtp://127.0.0.1:{controller.port}"
    yield sink
    controller.stop()
