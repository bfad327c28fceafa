"""The fake model server's connections: each reply sent as soon as it is written."""

import socket

import httpx

from monitor.fake_llm import _Handler

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def test_the_fake_sends_small_writes_at_once_on_a_kept_alive_connection(fake_llm, monkeypatch):
    # The headers and the body are two writes: with Nagle's algorithm on, the body would wait
    # for the client's delayed acknowledgement of the headers (~40 ms) on every reused connection.
    nodelay = []
    setup = _Handler.setup

    def recording_setup(handler):
        setup(handler)
        nodelay.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(_Handler, "setup", recording_setup)
    with httpx.Client() as http:
        for _ in range(2):
            response = http.post(f"{fake_llm.url}/chat/completions", json=CHAT)
            assert response.status_code == 200
    assert len(nodelay) == 1 and nodelay[0]
