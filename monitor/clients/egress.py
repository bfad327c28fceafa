"""Where requests to model servers may go, and how long one may take.

A base URL is a user's choice and the reply is the server's, so both are held to a policy:

- the URL is http(s), names no credentials, and only its scheme, host, port and path are used:
  a query or fragment can never choose the request path;
- the host is resolved once per connection and every address it resolves to must pass
  ``EgressPolicy``; the connection then goes to one of those checked addresses, so a DNS answer
  that changes between check and connect (rebinding) cannot slip past it;
- every connect, handshake, read and write of a request shares one deadline (``deadline``), so a
  server that drips a byte at a time cannot stretch a request past it (name resolution is bounded
  by the resolver's own timeouts).

Redirects are never followed (httpx's default): a 3xx is a failed request.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata and host services outside the link-local ranges (AWS over IPv6,
# Alibaba, Azure's WireServer): as sensitive as 169.254.169.254, so refused like it.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("fd00:ec2::254", "100.100.100.200", "168.63.129.16")
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/?#\s]*@")


class EgressRefusedError(Exception):
    """A request the egress policy does not allow; the message is safe to show."""


def redact_url(text: str) -> str:
    """``text`` with the credentials of every URL in it (``https://user:pass@host``) masked."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def request_url(base_url: str, path: str) -> str:
    """The URL to send to: the base URL's scheme, host, port and path, then ``path``.

    A query or fragment in the base URL is dropped, so ``http://host/v1?`` cannot swallow
    ``path``. Raises ``EgressRefusedError`` for a URL that is not http(s), has no host, or
    carries credentials (they would be sent as Basic auth and shown wherever the URL is).
    """
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise EgressRefusedError(f"base URL {redact_url(base_url)!r} is not valid: {exc}") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise EgressRefusedError(f"base URL {redact_url(base_url)!r} is not an http(s) URL")
    if "@" in parts.netloc:
        raise EgressRefusedError(
            f"base URL {redact_url(base_url)!r} carries credentials; give the key as the API key"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4 or NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses a model server may have. Link-local, metadata, multicast and reserved
    addresses are always refused; private and loopback ones are allowed with ``allow_private``
    (self-hosted models on the local network need it)."""

    allow_private: bool = False

    @classmethod
    def configured(cls) -> EgressPolicy:
        """This deployment's policy (``TAILWATCH_ALLOW_PRIVATE_ENDPOINTS``)."""
        return cls(allow_private=settings.TAILWATCH_ALLOW_PRIVATE_ENDPOINTS)

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be connected to, or None when it may."""
        address = _embedded_ipv4(address) or address
        if address.is_link_local or address in METADATA_ADDRESSES:
            return "a link-local or cloud metadata address"
        if (
            address.is_unspecified
            or address.is_multicast
            or (address.is_reserved and not address.is_loopback)
        ):
            return "not a unicast address"
        if address.is_global or self.allow_private:
            return None
        return "a private or loopback address (TAILWATCH_ALLOW_PRIVATE_ENDPOINTS is off)"

    def literal_refusal(self, host: str) -> str | None:
        """Why a host written as an IP address is refused; None for names (checked when
        resolved) and for allowed addresses."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None
        return self.refusal(address)

    def addresses(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, each allowed; raises ``EgressRefusedError`` if
        any is refused (a name with one bad address is not trusted with the others)."""
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses:
            refusal = self.refusal(ipaddress.ip_address(address))
            if refusal:
                raise EgressRefusedError(f"{host} resolves to {address}, {refusal}")
        return addresses


# The monotonic time by which the request under way in this thread must be done.
_deadline: ContextVar[float | None] = ContextVar("egress_deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every network operation of the requests made inside must end within ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _within_deadline(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the deadline; ``expired`` once none is."""
    until = _deadline.get()
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the policy allows, and only to the very
    addresses it checked."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        failure: httpcore.ConnectError | None = None
        for address in self._policy.addresses(host, port):
            try:
                stream = self._tcp.connect_tcp(
                    address,
                    port,
                    _within_deadline(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
            else:
                return _DeadlineStream(stream)
        raise failure or httpcore.ConnectError(f"{host} has no address")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over ``_GuardedBackend``. No proxy from the environment is used: the
    policy must see the address it connects to."""

    def __init__(self, policy: EgressPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx takes no network backend of its own, so its pool is replaced by one that has ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )


def read_up_to(response: httpx.Response, limit: int) -> bytes:
    """The body until it ends or passes ``limit`` bytes (decoded: a small compressed body that
    inflates past the limit stops there too)."""
    content = bytearray()
    for chunk in response.iter_bytes():
        content += chunk
        if len(content) > limit:
            break
    return bytes(content)
