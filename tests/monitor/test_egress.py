"""The egress policy: which addresses a model server may have, checked on every resolved address
and connected to as checked; the request URL built from the base URL's path alone."""

import ipaddress
import socket

import httpx
import pytest

from monitor.clients import egress
from monitor.clients.egress import EgressPolicy, EgressRefusedError, redact_url, request_url
from monitor.clients.openai_compatible import CompletionFailure, OpenAICompatibleClient
from monitor.fake_llm import FakeResponse

STRICT = EgressPolicy(allow_private=False)
SELF_HOSTED = EgressPolicy(allow_private=True)


def resolving_to(monkeypatch, *addresses: str) -> None:
    """Every name resolves to ``addresses``, as a DNS server under someone's control might say."""

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in addresses
        ]

    monkeypatch.setattr(egress.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # cloud metadata
        "169.254.170.2",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6, inside the private fc00::/7
        "100.100.100.200",
        "::ffff:169.254.169.254",  # the same, IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # the same, through NAT64
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
def test_link_local_metadata_and_non_unicast_addresses_are_always_refused(address):
    assert SELF_HOSTED.refusal(ipaddress.ip_address(address))
    assert STRICT.refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["10.0.0.1", "172.16.5.4", "192.168.1.10", "fc00::1", "127.0.0.1", "::1"]
)
def test_private_and_loopback_addresses_need_the_setting(address):
    assert "private" in STRICT.refusal(ipaddress.ip_address(address))
    assert SELF_HOSTED.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1"])
def test_public_addresses_are_allowed(address):
    assert STRICT.refusal(ipaddress.ip_address(address)) is None


def test_every_resolved_address_is_checked(monkeypatch):
    resolving_to(monkeypatch, "8.8.8.8", "169.254.169.254")
    with pytest.raises(EgressRefusedError, match=r"resolves to 169\.254\.169\.254"):
        SELF_HOSTED.addresses("model.example", 443)
    resolving_to(monkeypatch, "8.8.8.8", "10.1.2.3")
    with pytest.raises(EgressRefusedError, match=r"10\.1\.2\.3"):
        STRICT.addresses("model.example", 443)
    resolving_to(monkeypatch, "8.8.8.8", "2606:4700::1", "8.8.8.8")
    assert STRICT.addresses("model.example", 443) == ["8.8.8.8", "2606:4700::1"]


def test_the_request_path_comes_from_the_base_url_path_alone():
    assert request_url("http://vllm:8000/v1/", "/completions") == "http://vllm:8000/v1/completions"
    assert request_url("http://evil/x?", "/chat/completions") == "http://evil/x/chat/completions"
    assert request_url("http://evil/x#", "/chat/completions") == "http://evil/x/chat/completions"
    assert request_url("http://h/a?q=1#f", "/completions") == "http://h/a/completions"


@pytest.mark.parametrize(
    "base_url", ["https://user:hunter2@api.example/v1", "file:///etc/passwd", "http://[::1/"]
)
def test_a_base_url_with_credentials_or_no_http_host_is_refused_without_echoing_secrets(base_url):
    with pytest.raises(EgressRefusedError) as refused:
        request_url(base_url, "/chat/completions")
    assert "hunter2" not in str(refused.value)


def test_urls_in_text_lose_their_credentials():
    text = "POST https://user:hunter2@api.example/v1 failed; see http://plain.example/x"
    assert redact_url(text) == "POST https://***@api.example/v1 failed; see http://plain.example/x"


def client(url: str, policy: EgressPolicy, **options) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        base_url=url, model="m", egress_policy=policy, sleep=lambda seconds: None, **options
    )


def test_a_loopback_server_is_not_contacted_unless_private_addresses_are_allowed(fake_llm):
    with client(fake_llm.url, STRICT) as strict:
        result = strict.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "refused"
    assert "127.0.0.1" in result.message and not result.retryable
    assert fake_llm.behaviour.requests == 0
    with client(fake_llm.url, SELF_HOSTED) as allowed:
        assert allowed.complete("hi").text


def test_a_name_is_connected_to_at_the_address_checked(fake_llm, monkeypatch):
    port = fake_llm.url.split(":")[2].split("/")[0]
    resolving_to(monkeypatch, "127.0.0.1")
    seen = []
    fake_llm.behaviour.reply = lambda prompt, rng: seen.append(prompt) or "ok"
    with client(f"http://model.example:{port}/v1", SELF_HOSTED) as named:
        assert named.complete("hi").text == "ok"
    resolving_to(monkeypatch, "127.0.0.1", "169.254.169.254")
    with client(f"http://model.example:{port}/v1", SELF_HOSTED) as rebound:
        result = rebound.complete("hi")
    assert result.kind == "refused" and seen == ["hi"]


def test_redirects_are_not_followed(fake_llm):
    fake_llm.behaviour.script.append(
        FakeResponse(307, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    with client(fake_llm.url, SELF_HOSTED) as followed:
        result = followed.complete("hi")
    assert isinstance(result, CompletionFailure) and result.kind == "HTTP 307"
    assert fake_llm.behaviour.requests == 1


def test_httpx_errors_name_no_credentials():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("cannot reach https://user:hunter2@proxy.example/")

    result = client(
        "http://model.example/v1", SELF_HOSTED, transport=httpx.MockTransport(handler)
    ).complete("hi")
    assert result.kind == "connection error" and "hunter2" not in result.message


def test_connections_send_small_writes_at_once(fake_llm):
    # A request is written as headers then body: with Nagle's algorithm on, the body would wait
    # for the server's delayed acknowledgement of the headers on every reused connection.
    transport = egress.GuardedTransport(SELF_HOSTED, httpx.Limits())
    with httpx.Client(transport=transport) as http:
        response = http.post(
            f"{fake_llm.url}/chat/completions", json={"messages": [{"content": "hi"}]}
        )
        sock = response.extensions["network_stream"].get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
